"""The one permission table: which roles may open which view (deny by default).

Keys are URL names (namespace:name). A URL name missing here is refused for everyone,
and a test walks every URL pattern against this table, so a new page cannot slip through.
Object-level scoping (a referrer's own patients, a patient's own record) is applied on
top by nephro.exams.access.
"""

from nephro.accounts.roles import ALL, CLINICAL, STAFF, Role

R = Role
# Endpoints that authenticate by an OAuth bearer token or client credentials, not by a
# session (issue 17): each checks its caller itself, deny by default, against the SMART
# role x scope table in nephro/fhir/smart.py (nephro.fhir.auth.Grant.require).
TOKEN: frozenset[str] = frozenset(
    {
        "fhir:metadata",
        "fhir:smart-config",
        "fhir:search",
        "fhir:read",
        "oauth2_provider:token",
        "oauth2_provider:revoke-token",
        "oauth2_provider:introspect",
    }
)
PUBLIC: frozenset[str] = frozenset(
    {"login", "logout", "health", "set-language", "portal:info", "portal:accept"}
    # Password reset by e-mail: the link in the mail is the proof (accounts/reset.py).
    | {"password-reset", "password-reset-done", "password-reset-confirm", "password-reset-complete"}
    # FHIR and OAuth endpoints authenticate by bearer token or client credentials instead.
    | TOKEN
)

PERMISSIONS: dict[str, frozenset[str]] = {
    "home": ALL,
    "password": ALL,
    # Administration: accounts, roles, settings; no clinical records.
    "accounts:list": frozenset({R.ADMIN}),
    "accounts:create": frozenset({R.ADMIN}),
    "accounts:edit": frozenset({R.ADMIN}),
    "audit:search": frozenset({R.RADIOLOGIST, R.ADMIN}),
    # Background jobs: the failed ones, retry and cancel (issue 18; no patient data shown).
    "jobs:list": frozenset({R.ADMIN}),
    # The DICOM listener's health and quarantine (issue 16; no patient data shown).
    "dicom:health": frozenset({R.ADMIN}),
    # Patients and the tube registry.
    "patients:list": CLINICAL,
    "patients:create": frozenset({R.REFERRER, R.NURSE, R.RADIOLOGIST}),
    "patients:detail": CLINICAL,
    # Two records of one person made one: identity only, no clinical record (issue 15).
    "patients:merge": frozenset({R.ADMIN}),
    "patients:unmerge": frozenset({R.ADMIN}),
    "tubes:registry": STAFF,
    "tubes:create": frozenset({R.NURSE, R.RADIOLOGIST}),
    "tubes:edit": frozenset({R.NURSE, R.RADIOLOGIST}),
    # The exam workflow (DESIGN section 2, "who" column).
    "exams:worklist": STAFF,
    "exams:rooms": STAFF,
    "exams:order": frozenset({R.REFERRER, R.NURSE, R.RADIOLOGIST}),
    "exams:detail": CLINICAL,
    "exams:schedule": frozenset({R.NURSE, R.TECHNOLOGIST}),
    "exams:tube": frozenset({R.NURSE, R.RADIOLOGIST}),
    "exams:check-in": frozenset({R.TECHNOLOGIST}),
    "exams:checklist": frozenset({R.TECHNOLOGIST}),
    "exams:start": frozenset({R.TECHNOLOGIST, R.RADIOLOGIST}),
    "exams:procedure": frozenset({R.TECHNOLOGIST, R.RADIOLOGIST}),
    "exams:complete": frozenset({R.TECHNOLOGIST, R.RADIOLOGIST}),
    "exams:hold": STAFF,
    "exams:resume": frozenset({R.RADIOLOGIST}),
    "exams:cancel": frozenset({R.REFERRER, R.NURSE, R.RADIOLOGIST}),
    "exams:close": frozenset({R.NURSE, R.RADIOLOGIST}),
    "screening:edit": frozenset({R.NURSE, R.RADIOLOGIST}),
    "screening:decide": frozenset({R.RADIOLOGIST}),
    "reports:findings": frozenset({R.RADIOLOGIST}),
    "reports:edit": frozenset({R.RADIOLOGIST}),
    "reports:sign": frozenset({R.RADIOLOGIST}),
    "reports:addendum": frozenset({R.RADIOLOGIST}),
    "reports:disposition": frozenset({R.RADIOLOGIST}),
    "reports:view": CLINICAL,
    "reports:pdf": CLINICAL,
    # The drainage analysis: a suggestion the radiologist confirms or overrides.
    "drainage:picture": CLINICAL,
    "drainage:run": frozenset({R.TECHNOLOGIST, R.RADIOLOGIST}),
    "drainage:review": frozenset({R.RADIOLOGIST}),
    # Issue 14: the viewer's outline overlays (anyone who sees the images); correcting
    # them and recomputing is the radiologist's.
    "drainage:outlines": CLINICAL,
    "drainage:correct": frozenset({R.RADIOLOGIST}),
    # --- DICOM: images, reconciliation, viewer (issue 4) ---
    "dicom:viewer": CLINICAL,
    "dicom:frame": CLINICAL,
    "dicom:thumbnail": CLINICAL,
    "dicom:reconcile": STAFF,
    # Linking images to an exam: a radiologist or technologist confirms identity (issue 15).
    "dicom:link": frozenset({R.TECHNOLOGIST, R.RADIOLOGIST}),
    "dicom:upload": frozenset({R.TECHNOLOGIST, R.RADIOLOGIST}),
    # Dose from devices: accepting a device's value and clearing a dose flag (issue 16).
    "dicom:dose": frozenset({R.RADIOLOGIST}),
    "dicom:dose-accept": frozenset({R.RADIOLOGIST}),
    "dicom:dose-clear": frozenset({R.RADIOLOGIST}),
    # --- end DICOM ---
    # --- Patient portal and follow-up (issue 3) ---
    # Patients reach only their own exams (nephro.exams.access); staff may print the
    # handout and send invitations.
    "portal:exam": frozenset({R.PATIENT}),
    "portal:questionnaire": frozenset({R.PATIENT}),
    "portal:checkin": frozenset({R.PATIENT}),
    "portal:checkin-result": frozenset({R.PATIENT}),
    "portal:handout": CLINICAL | {R.PATIENT},
    "portal:invite": STAFF,
    # Recovery follow-up and triage (DESIGN section 6): nurse; radiologist does everything.
    "followup:triage": frozenset({R.NURSE, R.RADIOLOGIST}),
    "followup:triage-alerts": frozenset({R.NURSE, R.RADIOLOGIST}),
    "followup:acknowledge": frozenset({R.NURSE, R.RADIOLOGIST}),
    "followup:checkin": frozenset({R.NURSE, R.RADIOLOGIST}),
    "followup:review": frozenset({R.NURSE, R.RADIOLOGIST}),
    "followup:duty": frozenset({R.RADIOLOGIST}),
    # Tube registry after the study (DESIGN section 7).
    "tubes:due": STAFF,
    "tubes:export": frozenset({R.NURSE, R.RADIOLOGIST}),
    "tubes:trials": STAFF,
    "tubes:trial-start": frozenset({R.NURSE, R.RADIOLOGIST}),
    "tubes:trial-close": frozenset({R.NURSE, R.RADIOLOGIST}),
    # --- end portal ---
    # SMART on FHIR (issue 17): who may let an app act for them; the scopes it gets are
    # then cut to the role's (nephro/fhir/smart.py). Administrators hold no clinical scope.
    "oauth2_provider:authorize": CLINICAL | {R.PATIENT},
}


def allowed(role: str, url_name: str) -> bool:
    return role in PERMISSIONS.get(url_name, frozenset())
