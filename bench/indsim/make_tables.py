"""Regenerate ``data/mu_tables.json`` from the Elam et al. tables shipped with ``xraydb``.

This is a one-off developer tool: the simulator itself reads the JSON file and never needs
``xraydb``.  To regenerate (``xraydb`` ships its data offline)::

    python -m venv /tmp/xrdb && /tmp/xrdb/bin/pip install xraydb
    /tmp/xrdb/bin/python bench/indsim/make_tables.py

Compositions (mass fractions) are ICRU Report 44 values for soft tissue, adipose tissue and
cortical bone; calcium oxalate monohydrate (CaC2O4.H2O) for stones; BaSO4 for the
radio-opaque filler of catheters; polyurethane approximated as C3H5NO2 (urethane repeat
unit, mass-weighted); CsI for the detector.  Values are mass attenuation coefficients
mu/rho in cm^2/g at bin-centre energies 10.5 ... 149.5 keV (1 keV bins, so that no bin
straddles the iodine K edge at 33.17 keV or the caesium edge at 35.99 keV).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ICRU44 = {
    "soft_tissue": (
        1.06,
        {
            "H": 0.102,
            "C": 0.143,
            "N": 0.034,
            "O": 0.708,
            "Na": 0.002,
            "P": 0.003,
            "S": 0.003,
            "Cl": 0.002,
            "K": 0.003,
        },
    ),
    "adipose": (
        0.95,
        {"H": 0.114, "C": 0.598, "N": 0.007, "O": 0.278, "Na": 0.001, "S": 0.001, "Cl": 0.001},
    ),
    "cortical_bone": (
        1.92,
        {
            "H": 0.034,
            "C": 0.155,
            "N": 0.042,
            "O": 0.435,
            "Na": 0.001,
            "Mg": 0.002,
            "P": 0.103,
            "S": 0.003,
            "Ca": 0.225,
        },
    ),
}

FORMULAS = {
    # name: (density g/cm^3, formula)
    "water": (1.0, "H2O"),
    "calcium_oxalate": (2.12, "CaC2O5H2"),
    "barium_sulfate": (4.5, "BaSO4"),
    "polyurethane": (1.1, "C3H5NO2"),
    "air": (0.0012, "N78O21Ar1"),
    "aluminium": (2.70, "Al"),
    "copper": (8.96, "Cu"),
    "csi": (4.51, "CsI"),
}


def main() -> None:
    import xraydb  # noqa: PLC0415 - developer-only dependency

    energies_kev = np.arange(10.5, 150.0, 1.0)
    ev = energies_kev * 1000.0
    out: dict[str, object] = {
        "source": f"xraydb {xraydb.__version__} (Elam, Ravel & Sieber 2002 tables)",
        "units": "mass attenuation mu/rho, cm^2/g, total including coherent",
        "energies_keV": energies_kev.round(2).tolist(),
        "density_g_cm3": {},
        "mu_rho": {},
    }
    dens: dict[str, float] = out["density_g_cm3"]  # type: ignore[assignment]
    mu: dict[str, list[float]] = out["mu_rho"]  # type: ignore[assignment]
    for name, (rho, fractions) in ICRU44.items():
        total = sum(fractions.values())
        vals = sum(w / total * xraydb.mu_elam(el, ev) for el, w in fractions.items())
        dens[name] = rho
        mu[name] = [float(f"{v:.5g}") for v in vals]
    for name, (rho, formula) in FORMULAS.items():
        vals = xraydb.material_mu(formula, ev, density=rho) / rho
        dens[name] = rho
        mu[name] = [float(f"{v:.5g}") for v in vals]
    for el in ("I", "Ba"):
        mu[el] = [float(f"{v:.5g}") for v in xraydb.mu_elam(el, ev)]
    # Air energy-absorption: photoelectric plus the Klein-Nishina energy-transfer fraction
    # of incoherent scattering (used only to express detector dose in air kerma).
    photo = sum(w * xraydb.mu_elam(el, ev, kind="photo") for el, w in (("N", 0.755), ("O", 0.232)))
    incoh = sum(w * xraydb.mu_elam(el, ev, kind="incoh") for el, w in (("N", 0.755), ("O", 0.232)))
    out["air_photo"] = [float(f"{v:.5g}") for v in photo]
    out["air_incoh"] = [float(f"{v:.5g}") for v in incoh]
    out["tungsten_K_lines_keV"] = {
        k: [v.energy / 1000.0, v.intensity]
        for k, v in xraydb.xray_lines("W", "K").items()
        if v.intensity > 0.01
    }
    out["edges_keV"] = {
        el: xraydb.xray_edge(el, "K").energy / 1000.0 for el in ("I", "Cs", "Ba", "W")
    }
    path = Path(__file__).with_name("data") / "mu_tables.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
