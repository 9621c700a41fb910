"""Every number the drainage verdict depends on, with where it comes from.

No published quantitative nephrostogram thresholds exist (see ``docs/analysis.md``).
The clinical cut-offs below are therefore borrowed *by analogy* from diuretic
renography (MAG3 T1/2, NORA) and from nephrostogram practice (the 20-minute delayed
film). The engineering constants (detection levels, sizes) have no clinical source;
they were tuned on development phantom seeds 0-9999 only and are labelled as such.
Keep every threshold here so a reviewer can audit them in one place.
"""

from __future__ import annotations

# --- Clinical cut-offs (by analogy) -------------------------------------------------

DRAINS_MAX_ARRIVAL_S: float = 600.0
"""Contrast must reach the bladder within 10 min to call the kidney draining.

By analogy: diuretic renography calls T1/2 < 10 min "not obstructed" (WUSTL
teaching file; analysis.md section 1), and the nephrostogram's delayed film at
about 20 min is expected to show the bladder (NU Hospitals; clinical.md section 3)."""

DRAINS_MAX_T_HALF_S: float = 600.0
"""Collecting-system clearance half-time below 10 min counts as prompt drainage.

By analogy with the MAG3 diuretic T1/2: < 10 min not obstructed, 10-20 min
indeterminate, > 20 min likely obstructed (WUSTL; analysis.md section 1)."""

DRAINS_MAX_RESIDUAL_20MIN: float = 0.5
"""Residual activity at 20 min (RA20 = contrast at 20 min / peak) at most 0.5.

By analogy with NORA20: means 0.25 (normal) and 0.57 (dilated, unobstructed) in the
IAEA paediatric software study (Clin Nucl Med 2014;39:598). Ours is relative to
the peak rather than to 1-2 min, so it is at most NORA and the cut-off is lenient."""

OBSTRUCTED_MIN_RESIDUAL: float = 0.8
"""Upper tract still holding >= 80 % of its peak contrast at the last film.

Proposal in analysis.md section 6(a), by analogy with NORA/OE: the IAEA obstruction
cut-off OE20 73 % (output efficiency) means < 27 % left the kidney; we require
retention of >= 80 % with no bladder arrival at all before saying "obstructed"."""

OBSTRUCTED_MIN_SPAN_S: float = 1200.0
"""A no-drainage verdict needs a film at >= 20 min after the first frame.

Source: the standard 20-minute delayed film for bladder drainage (NU Hospitals;
clinical.md section 3; DESIGN.md section 4). Slightly earlier films (18 min) are
accepted through :data:`SPAN_TOLERANCE_S`.
"""

MIN_SPAN_WITHOUT_ARRIVAL_S: float = 600.0
"""Below 10 min of observation with no bladder contrast nothing can be said (analysis.md
section 6(a): "a span under 10 min with no arrival" is indeterminate)."""

SPAN_TOLERANCE_S: float = 120.0
"""Spot films are taken "at about" 5/10/20 min; accept 2 min early (engineering)."""

DRAINED_MAX_RESIDUAL: float = 0.5
"""Kidney and ureter holding less than half their peak at the last film have drained.

Engineering (issue 14: "a kidney that empties is not obstructed because the bladder
was not found"): the mass-balance retention, which counts contrast not seen elsewhere
as retained, is used only above this level; half is the T1/2 definition.
"""

FIELD_EDGE_MM: float = 15.0
"""Ureteric contrast this close to the lower edge of the valid field leaves it.
Engineering: the 3x3 smoothing and the border left out of the valid pixels keep
significant contrast about 12 mm from the edge on our phantom's 128 px grid."""

MIN_POINTS_AFTER_PEAK: int = 3
"""At least 3 time points after filling are needed to fit a clearance (analysis.md)."""

KIDNEY_MIN_SHOWN: float = 0.5
"""Share of the collecting system's contrast at its fullest a film must show to be read
(:func:`nephro.analysis.curves.read_within_fields`). Engineering (issue 14, indsim dev):
a film missing the kidney read as emptied; below half, the part stands for too little."""

MIN_FILLED_IMAGES: int = 2
"""The collecting system must show contrast on at least 2 different images: drainage is
a change over time (clinical.md section 4, "Drainage"; [NU]). Engineering on the count:
on indsim development seeds, contrast seen only on the last film read as "retained".
"""

KIDNEY_MAX_FROM_SPINE_MM: float = 100.0
"""Contrast retained further from the spine than this lies beyond the kidney's lateral
border: the hilum lies about 5 cm from the median plane (Moore, Clinically Oriented
Anatomy, "Kidneys") and a kidney is about 5 cm wide (Ellis, Clinical Anatomy, "The
kidneys"). Dev seeds: the phantom's collecting systems 29-63 mm from the spine, its
displaced tubes 82-128 mm; indsim's rightly read obstructed kidneys up to 100.1 mm (no
margin: that one is now indeterminate). Centres too: phantom 40-74 mm, its displaced
tubes 81-120, indsim's read obstructed <= 81. Images without source distances are
measured at the detector (10-30 % wider): errs towards "indeterminate, check the tube"."""

# --- Detection (engineering; tuned on development seeds 0-9999) -----------------------

ANALYSIS_GRID_PX: int = 128
"""Frames are binned so the longer side is about 128 px (~3 mm at a 40 cm field).
Engineering: keeps a 150-frame 512^2 series inside the speed budget and averages
quantum noise; the thinnest structure we must see (ureter, 3-7 mm) is still 1-2 px."""

PIXEL_SIGMA_SIGNIFICANT: float = 3.0
"""Per-pixel significance (in noise sigmas) for "contrast present" maps."""

PIXEL_SIGMA_HYSTERESIS_HIGH: float = 6.0
"""Seed level of the hysteresis segmentation (analysis.md: k*sigma plus hysteresis)."""

ARRIVAL_SIGMA: float = 4.0
"""Bladder arrival = first of 2 consecutive frames above baseline + 4 sigma (analysis.md
section 6(a), the same rule as bolus arrival time in DSA parametric imaging)."""

ARRIVAL_CONSECUTIVE: int = 2
"""Number of consecutive frames that must exceed :data:`ARRIVAL_SIGMA`."""

ARRIVAL_MIN_FRACTION: float = 0.01
"""Bladder signal must also exceed 1 % of the peak upper-tract signal.

Same as the ground-truth definition (1 % of the injected iodine in the bladder, see
:data:`GT_ARRIVAL_MASS_FRACTION`); the curves are linearised for scatter first, so
signal fractions approximate mass fractions (it was 3 % before linearisation).
"""

ARRIVAL_STEP_FRAMES: int = 6
"""Once arrival is detected, its time is the start of the step in bladder content that
best explains the frames of the same run up to 6 past the detection (a change-point
fit; contrast reaches the bladder in boluses). Engineering, dev seeds 0-839: median
error 1.64, 1.14 and 1.06 s with 0, 3 and 6 frames, 3.10 s by the back-tracking over
the bladder core's sum that this replaced."""

GT_ARRIVAL_MASS_FRACTION: float = 0.01
"""Ground truth: contrast has arrived once 1 % of the injected iodine is in the bladder."""

MIN_CONTRAST_PIXELS: int = 12
"""Fewer significant pixels (analysis grid) than this in every frame = no contrast seen."""

CONTRAST_POSITIVE_RATIO: float = 3.0
"""A frame shows contrast when significant positive pixels outnumber negative ones 3:1.

Engineering: contrast only adds attenuation; motion makes balanced +/- lobes.
"""

BLADDER_MIN_HALF_WIDTH_MM: float = 10.0
"""Radius of the widest disk that must fit inside an accepted bladder: the dilated
column above a block at the uretero-vesical junction is <= 15 mm across, a bladder
holding contrast >= 5 cm; engineering, tuned on dev seeds 0-279 (12 mm lost small
bladders, 8 mm let columns through). Pixels left out of the detector's map (scout gas and
the lucent gaps between the pelvic bones, which a bladder often overlies) may lie under
the disk: dev seeds 0-1399, specificity 0.974 -> 0.978 and sensitivity 0.977 -> 0.975;
seeds 1400-2099 unchanged."""

BLADDER_MIN_FWHM_MM: float = 20.0
"""Across its narrow axis, an accepted bladder's contrast is at least 20 mm wide at half
maximum (profile averaged along the long axis, so faint bladders qualify too): a
dilated ureter is at most 15 mm across (radius up to 7.5 mm, analysis.md section 6(b)),
and the end of a column above a block at the uretero-vesical junction had passed the
disk test on the smoothed map. Engineering, dev seeds 0-1119: false bladders measured
3-76 mm (8 of 13 under 20); of 581 real ones 4 were under 20 mm, all in studies whose
tube was left open, so that little contrast reached the bladder. Obstruction
sensitivity 0.958 -> 0.975 on both dev sets (0-839, 840-1119), specificity unchanged."""

BLADDER_CANDIDATES: int = 4
"""Strongest detector peaks tried, best first, before saying no bladder; engineering."""

BLADDER_REGION_FRACTION: float = 0.3
"""A bladder's region: smoothed contrast above this fraction of its peak over the
surroundings; engineering, dev seeds."""

LUCENT_MAD: float = 6.0
"""A pixel is lucent (bowel gas arrived since the scout) when it lies this many robust
sigmas of the frame's valley depths below its surroundings; engineering, dev seeds."""

GAS_RIM_MM: float = 10.0
"""A scout lucency at the body's soft-tissue level is a gap between bones (the pelvis
below the sacrum, where the bladder lies) unless it lies within this distance of
clearly lucent pixels: the tapering rim of a gas pocket; engineering, dev seeds
0-2099 (round 8)."""

GAS_MAX_FRACTION: float = 0.1
"""At most this share of the scout's valid pixels is taken as bowel gas: bowel gas
over a kidney-to-bladder field is a few pockets; more means the scout was
display-processed (edge enhancement, a clipping window) and the lucency test is marking
anatomy. Engineering, independent-simulator dev seeds 0-64: the mask took 15-57 % of
the field on the cases read as "no contrast"."""

GAP_MAX_BONE_RING: float = 0.6
"""A scout lucency at the soft-tissue level is still taken as gas when more than this
fraction of the ring 6-15 mm around its piece is bone: a gas pocket over the sacrum
whose lucency happens to cancel the bone's density; engineering, dev seeds 0-2099
(round 8)."""

BLADDER_MIN_BELOW_KIDNEY_MM: float = 100.0
"""The bladder lies at least 10 cm below the renal pelvis (adult anatomy; engineering)."""

BLADDER_MAX_OFF_MIDLINE_MM: float = 60.0
"""The bladder is a midline pelvic organ: its detector peak must lie within 6 cm of the
midline (spine) on the AP view (anatomy, with room for rotation and a bladder up to
12 cm wide); engineering."""

BLADDER_DETECT_SIGMA: float = 8.0
"""Blob detector response needed to accept a bladder, in noise sigmas of a 3 cm box."""

BLADDER_OUTLIER_MAD: float = 5.0
"""...and stand out of the lower field's blob responses by 5 robust sigmas (gas and
shift residue make that field busy). Engineering, dev seeds 0-839: with 6, obstruction
specificity was 0.954 (faint bladders missed, read as obstructed); 5 with the spot-film
rule below gives 0.965 at a sensitivity of 0.953 (0.950 before)."""

BLADDER_OUTLIER_MAD_SPOT: float = 6.0
"""A bladder first seen on the delayed spot films must stand out by 6 robust sigmas:
those films carry more patient-shift and gas structure, and at 5 the end of a column
above a uretero-vesical block passed for a bladder (engineering, dev seeds 0-839)."""

BLADDER_MAX_AREA_MM2: float = 7500.0
"""A bladder first seen on the delayed films that misses BLADDER_OUTLIER_MAD_SPOT is still
taken when it fills as a bladder does: its region no larger than 75 cm^2 (a full adult
bladder of ~500 mL is a sphere of ~49 mm radius, 75 cm^2 in projection; anatomy), its
content above the arrival limits on every film from the first that shows it, and more on
the last than on that first. Shift residue taken for bladders in blocked kidneys measured
78-424 cm^2 or did not hold. Engineering, dev seeds 0-1399: specificity 0.970 -> 0.974,
sensitivity unchanged; seeds 1400-2099 (not used to find the rule): 0.958 -> 0.960."""

BLADDER_FILM_SIGMA: float = 3.0
"""A bladder the outlier test missed is still taken when its content (read with its own
shape) is above 3 sigma on every delayed film, above BLADDER_DETECT_SIGMA on the last,
and grew by 3 sigma from the first delayed film to the last. Engineering, dev seeds
0-1119: specificity 0.965 -> 0.969 (0-839) and 0.938 -> 0.956 (840-1119), sensitivity
unchanged; the result was the same with 6/2/2 and 10/3/3 sigma, and without the growth
test one blocked kidney more was called draining."""

BLADDER_MIN_AREA_MM2: float = 1000.0
"""Smallest opacified bladder core accepted (10 cm^2 above 30 % of its peak; a 100 mL
bladder is ~30 cm^2 in all). Engineering: at 4 cm^2 the phantom's moved gas and film
residue (5.6-8.3 cm^2) dated arrivals for blocked kidneys (issue 14, 24th session; dev
0-359 0.831 -> 0.847, with variations 0.472 -> 0.483, where 7 partly shown or faint real
bladders are lost); earlier, on dev 0-279, 6 cm^2 missed faint slow bladders."""

BLADDER_PRIOR_TOP_FRACTION: float = 0.62
"""Without bladder contrast we assume the bladder lies below 62 % of the field height.

Engineering assumption about framing: a nephrostogram field spans kidney to bladder,
so the bladder sits in the lower third. Only used for the obstruction level.
"""

LEAK_MIN_AREA_MM2: float = 400.0
"""Smallest extravasation we report (4 cm^2); below this calyceal motion and the rim
of the collecting system dominate (dev seeds 0-279: true leaks measured 4-19 cm^2)."""

LEAK_FRAME_TOLERANCE_MM: float = 6.0
"""Play allowed between the last two films when both must show a leak (breath-hold
at another phase, tracking to the pixel); engineering, dev seeds."""

LEAK_MIN_SIGMA: float = 6.0
"""Leak mass must exceed 6 sigma of its own noise at the last films (engineering)."""

LEAK_MIN_GROWTH: float = 1.5
"""Extravasation grows: late leak signal >= 1.5x the signal at the collecting-system peak."""

LEAK_MIN_FRACTION: float = 0.02
"""A leak holds at least 2 % of the upper tract's peak contrast on the last film. The
ground truth calls a leak from 1 % of the injected iodine; fainter regions that passed
the other checks were residue of film matching (engineering, dev seeds 0-839: 4 of 24
false leaks removed, none of 104 true ones lost)."""

LEAK_MIN_RELATIVE_GROWTH: float = 1.0
"""A leak pixel at least doubles from the template frame (the fullest collecting
system) to the last films: the collecting system itself, full at the template, can only
keep or lose contrast, while an extravasation keeps growing (engineering, dev seeds
0-559; replaces excluding the dense collecting system, which hid leaks at the calyceal
rim)."""

LEAK_TUBE_TIP_MM: float = 15.0
"""No leak is looked for within 15 mm of the tube tip: a pigtail loop (6-10 mm radius)
keeps contrast in its lumen while the pelvis around it empties (engineering, dev seeds
0-839)."""

CS_DENSE_FRACTION: float = 0.3
"""The dense collecting system (template pixels above 30 % of the pelvis), over which
its residual fraction on a late film is measured (engineering)."""

URETER_THIN_MM: float = 6.0
"""When contrast drains to the bladder, parts of the below-kidney contrast that hold a
12 mm disk are looked at as a possible leak rather than ureter: a ureter that is not
blocked is narrower than that even after blur (engineering, dev seeds 0-559)."""

LEAK_EDGE_SIGMA: float = 2.0
"""Hysteresis level for the faint rim of a leak connected to its significant core
(engineering, tuned on dev seeds)."""

LEAK_MAX_DISTANCE_MM: float = 60.0
"""Leaks are searched within 6 cm of the collecting system (the perirenal space);
further out, the body's edge and bowel gas shifting between films outweighed the rare
far-flung leak (engineering, dev seeds 0-559: leak accuracy 0.943 at 9 cm, 0.955 at 6 cm)."""

LEAK_MAX_SOURCE_MM: float = 25.0
"""A leak region reaches this near the collecting system: extravasation spreads from where
it left it, within half a kidney's width (5 cm, :data:`KIDNEY_MAX_FROM_SPINE_MM`). Dev:
indsim's false leaks lay 39-44 mm off (diaphragm, gas), the phantom's true ones <= 7 mm."""

URETER_BAND_MM: float = 8.0
"""Half-width added around the ureter's significant core when summing its contrast.

Engineering: a dilated column (radius up to 7.5 mm, analysis.md section 6(b)) blurred
by the detector has tails ~8 mm beyond the part that is significant per pixel.
"""

COLUMN_MIN_AREA_MM2: float = 100.0
"""Smallest piece of contrast on the last film that counts toward the column's caudal
end (a 10 x 10 mm segment of dilated ureter); engineering, dev seeds."""

UPJ_MAX_FRONT_MM: float = 35.0
"""Contrast front within 3.5 cm below the pelvis = block at the pelvi-ureteric junction."""

UVJ_MAX_GAP_MM: float = 35.0
"""Contrast front within 3.5 cm of the bladder = block at the vesico-ureteric junction."""

MASS_LOSS_FRACTION: float = 0.5
"""Contrast lost from the field: the collecting system emptied (below half its peak)
but bladder, ureter and leak show less than half of what left it. Engineering: iodine
is conserved in the field, so a large loss means an open tube, or a bladder outside the
field or emptied. Phantom dev, kidneys that emptied: open tubes 51 of 88 at 0.35, 68 at
0.5; draining ones 0 and 2 of 147 (issue 14, seventeenth session; changelog)."""

MOTION_MAX_SHIFT_MM: float = 50.0
"""Largest kidney displacement searched (breathing 1-4 cm, analysis.md section 3)."""

TRACK_SPOT_MARGIN_MM: float = 6.0
"""Spot films are matched within the run's breathing range plus this margin.

Engineering: films after a pause are registered for patient shift first, so only
breathing (seen during the run) moves the kidney; late matches beyond it were slips.
"""

TRACK_RELIABLE_FRACTION: float = 0.15
"""A kidney match is reliable when the matched contrast is 15 % of the template's
(engineering; the value the tracker always used)."""

TRACK_MIN_RUN_FRAMES: int = 8
"""A run needs this many frames to show the breathing range (engineering)."""

SPOT_GAP_S: float = 10.0
"""A gap longer than this starts a new acquisition that is registered on its own."""

SCATTER_FRACTION_GRID: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(17))
"""Scatter fractions (0-0.8 of the detected signal) tried when linearising the signal.

Physics: a scatter-to-primary ratio of 0.3-1 with a grid and 2-4.5 without
(analysis.md section 3) is a scatter fraction of 0.23-0.82. The value used is
fitted per series by mass conservation (engineering, checked on dev seeds).
"""

SCATTER_FRACTION_ASSUMED: float = 0.4
"""Scatter fraction assumed for log-encoded pixels (their log scale is fitted instead),
and the least the field's balance is read with (:func:`nephro.analysis.metrics.field_balance`).

Engineering: the middle of the SPR range above (SPR ~0.7); with an unknown stored log
scale only one parameter can be fitted from mass conservation."""

SCATTER_FIT_SIGMA: float = 4.0
"""Pixels above 4 noise sigmas in any fitted frame are linearised in the fit; the
rest are summed as they are (linear for thin layers). Engineering."""

# --- Confidence (engineering) --------------------------------------------------------

CONFIDENCE_MIN_DECISIVE: float = 0.5
"""Below this confidence the reasons say the call is borderline."""

# --- Encoding (engineering) ----------------------------------------------------------

NORMALISE_MIN_PIXELS: int = 500
"""Pixels both images expose below which a frame is not matched to the reference
(a map from fewer would follow the contrast, not the anatomy); engineering."""

# --- Views at another table position (engineering, indsim dev seeds 0-59) ------------

VIEW_MIN_OVERLAP: float = 0.15
"""Shifts at which two views share less than this share of the smaller field are not
considered when placing one on the other (a few pixels correlate by chance)."""
VIEW_MIN_NCC: float = 0.3
"""Edge correlation below which a placement is uncertain (views of one patient: 0.4-0.9)."""
VIEW_MAX_RUNNER_UP: float = 0.85
"""A placement is uncertain when a shift over 2 cm away correlates nearly as well (this
share of the best): the lumbar vertebrae repeat every ~3.5 cm."""
VIEW_MIN_SEEN: float = 0.2
"""A view imaging less than this share of the grid (a small film) is not placed."""
VIEW_MIN_PELVIS_MM: float = 60.0
"""A view shows the bladder's region when it reaches this far below the top of the
bladder search (BLADDER_MIN_BELOW_KIDNEY_MM under the kidney)."""
VIEW_BASELINE_TRIES: int = 3
"""Earlier views of the pelvis tried, earliest first, as the one a view is subtracted
from (a view just after a pan may be mid-exposure-change)."""
VIEW_BLADDER_SIGMA: float = 8.0
"""The bladder's region gained contrast since an earlier view when a wide blob stands
this many sigmas (noise, or the spread of the residue) above the rest of the difference;
strict like BLADDER_DETECT_SIGMA, since a false arrival is the costly error."""
VIEW_EMPTY_SIGMA: float = 3.0
"""...and gained nothing when no wide blob reaches this many."""
VIEW_BLADDER_MIN_AREA_MM2: float = 600.0
"""...a blob of at least 6 cm^2 (a 100 mL bladder is ~30 cm^2, often partly in view;
most pockets of moved gas are smaller)..."""
VIEW_BLADDER_MIN_LEVEL: float = 0.05
"""...and at least 0.05 in log transmission (flat 8-bit films show no noise)."""
