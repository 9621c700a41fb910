"""Django settings for Nephro.

Everything that differs between machines comes from NEPHRO_* environment variables,
read through the typed helpers in nephro.lib.env. Demo mode (NEPHRO_DEMO=true) is the
only mode with known passwords; it binds to loopback and generates its own secret key.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from nephro.lib.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("NEPHRO_VAR_DIR", str(BASE_DIR / "var")))
# Owner-only: the database, images and pictures below hold patient data.
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)

DEMO = env_bool("NEPHRO_DEMO", False)
DEBUG = env_bool("NEPHRO_DEBUG", False)


def _secret_key() -> str:
    key = env_secret("NEPHRO_SECRET_KEY")
    if key:
        return key
    if not DEMO:
        raise ImproperlyConfigured(
            "NEPHRO_SECRET_KEY (or NEPHRO_SECRET_KEY_FILE) must be set outside demo mode"
        )
    # Demo mode only: a key generated once per machine, never a constant in the code.
    path = VAR_DIR / "demo_secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("NEPHRO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("NEPHRO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "nephro.accounts",
    "nephro.audit",
    "nephro.patients",
    "nephro.tubes",
    "nephro.exams",
    "nephro.screening",
    "nephro.reports",
    "nephro.jobs",
    "nephro.drainage",
    "nephro.dicom",
    "nephro.portal",
    "nephro.followup",
    "nephro.front",
    "oauth2_provider",  # issue 17: SMART on FHIR authorization server
    "nephro.fhir",
    "nephro.hl7",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise, so static files stay cacheable: no-store and the CSP.
    "nephro.front.security.SecurityHeaders",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "nephro.accounts.middleware.RolePermissionMiddleware",
    "nephro.front.scope.OutOfScopeAudit",
]

ROOT_URLCONF = "nephro.urls"
WSGI_APPLICATION = "nephro.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "nephro.accounts.context_processors.role",
                "nephro.front.security.csp_nonce",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'nephro.sqlite3'}",
        conn_max_age=env_int("NEPHRO_DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, DICOM listener and worker read while one writes;
    # IMMEDIATE transactions avoid "database is locked" upgrades mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# --- Background jobs (issue 18; nephro/jobs, docs/deploy.md) ---
# The engine behind nephro.jobs: "procrastinate" (PostgreSQL only: workers on any number
# of machines) or "embedded" (the job table of a single machine). Default: Procrastinate
# on PostgreSQL, embedded otherwise.
_IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
NEPHRO_JOBS_BACKEND = env_str(
    "NEPHRO_JOBS_BACKEND", "procrastinate" if _IS_POSTGRES else "embedded"
)
if NEPHRO_JOBS_BACKEND not in ("procrastinate", "embedded"):
    raise ImproperlyConfigured("NEPHRO_JOBS_BACKEND must be 'procrastinate' or 'embedded'")
if NEPHRO_JOBS_BACKEND == "procrastinate":
    if not _IS_POSTGRES:
        raise ImproperlyConfigured("NEPHRO_JOBS_BACKEND=procrastinate needs PostgreSQL")
    INSTALLED_APPS.insert(INSTALLED_APPS.index("nephro.jobs"), "procrastinate.contrib.django")
# Our apps register their handlers through nephro.jobs; nothing for Procrastinate to find.
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = ""
# --- end background jobs ---

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Failed logins before an account is locked, and for how long.
NEPHRO_LOCKOUT_ATTEMPTS = env_int("NEPHRO_LOCKOUT_ATTEMPTS", 5)
NEPHRO_LOCKOUT_MINUTES = env_int("NEPHRO_LOCKOUT_MINUTES", 15)

# Idle sessions expire: every request pushes the expiry forward by this much.
SESSION_COOKIE_AGE = env_int("NEPHRO_IDLE_MINUTES", 20) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if not DEMO and not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("NEPHRO_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("NEPHRO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "nephro" / "locale"]
TIME_ZONE = env_str("NEPHRO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"

EMAIL_BACKEND = env_str(
    "NEPHRO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEMO
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("NEPHRO_FROM_EMAIL", "nephro@localhost")

# Department-wide clinical defaults; each cites its source in the module that uses it.
NEPHRO_PREGNANCY_AGE_MIN = env_int("NEPHRO_PREGNANCY_AGE_MIN", 12)
NEPHRO_PREGNANCY_AGE_MAX = env_int("NEPHRO_PREGNANCY_AGE_MAX", 55)
NEPHRO_TUBE_EXCHANGE_DAYS = env_int("NEPHRO_TUBE_EXCHANGE_DAYS", 91)
NEPHRO_TUBE_DUE_SOON_DAYS = env_int("NEPHRO_TUBE_DUE_SOON_DAYS", 14)
# Images of one study arrive as many instances: the drainage analysis waits this long
# after the first so one analysis covers the run and the delayed spot films.
NEPHRO_ANALYSIS_SETTLE_SECONDS = env_int("NEPHRO_ANALYSIS_SETTLE_SECONDS", 20)
NEPHRO_DEPARTMENT_PHONE = env_str("NEPHRO_DEPARTMENT_PHONE", "555-0100")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("NEPHRO_LOG_LEVEL", "INFO")},
}

# --- Patient portal and follow-up (issue 3) ---
# Check-ins are requested these many hours after the study (DESIGN section 6).
NEPHRO_CHECKIN_HOURS: list[int] = []
for _hours in env_list("NEPHRO_CHECKIN_HOURS", ["24", "72"]):
    if not _hours.isdigit() or int(_hours) <= 0:
        raise ImproperlyConfigured(f"NEPHRO_CHECKIN_HOURS must be whole hours, not {_hours!r}")
    NEPHRO_CHECKIN_HOURS.append(int(_hours))
# One reminder when a requested check-in is still unanswered after this many hours.
NEPHRO_CHECKIN_REMINDER_HOURS = env_int("NEPHRO_CHECKIN_REMINDER_HOURS", 12)
# Urgent and emergency alerts nobody acknowledged within this time go to the
# radiologist(s) on duty.
NEPHRO_ESCALATION_MINUTES = env_int("NEPHRO_ESCALATION_MINUTES", 30)
# --- Records and triage (issue 15) ---
# An open triage page fetches its open alerts again this often (htmx polling).
NEPHRO_TRIAGE_REFRESH_SECONDS = env_int("NEPHRO_TRIAGE_REFRESH_SECONDS", 20)
# One room booking lasts this long when checking for a clash: the study takes
# 30-60 min [DR][SD] (clinical.md section 3).
NEPHRO_ROOM_SLOT_MINUTES = env_int("NEPHRO_ROOM_SLOT_MINUTES", 60)
if NEPHRO_TRIAGE_REFRESH_SECONDS < 1 or NEPHRO_ROOM_SLOT_MINUTES < 1:
    raise ImproperlyConfigured(
        "NEPHRO_TRIAGE_REFRESH_SECONDS and NEPHRO_ROOM_SLOT_MINUTES must be at least 1"
    )
# --- end records and triage ---
# A portal invitation link works once, for this many days.
NEPHRO_INVITATION_DAYS = env_int("NEPHRO_INVITATION_DAYS", 7)
# The daily tube digest goes out at the first run after this local hour, to these
# addresses (empty: every active nurse with an e-mail address).
NEPHRO_DIGEST_HOUR = env_int("NEPHRO_DIGEST_HOUR", 7)
NEPHRO_DIGEST_TO = env_list("NEPHRO_DIGEST_TO", [])
# Where links in e-mails point.
NEPHRO_SITE_URL = env_str("NEPHRO_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Unset, links that staff send from a page (invitations) use the address their browser
# reached Nephro at, so they follow the port the service really runs on.
NEPHRO_SITE_URL_FIXED = bool(env_str("NEPHRO_SITE_URL", ""))
# What patients are told to dial in an emergency (clinical.md section 6 [FH]: 911 in the US).
NEPHRO_EMERGENCY_NUMBER = env_str("NEPHRO_EMERGENCY_NUMBER", "911")
# --- end portal ---

# DICOM listener and image store (issue 4; docs/dicom.md).
NEPHRO_DICOM_AE_TITLE = env_str("NEPHRO_DICOM_AE_TITLE", "NEPHRO")
NEPHRO_DICOM_HOST = env_str("NEPHRO_DICOM_HOST", "127.0.0.1" if DEMO else "0.0.0.0")
NEPHRO_DICOM_PORT = env_int("NEPHRO_DICOM_PORT", 11112)
# Calling AE titles allowed to associate; everyone else is rejected. The demo
# fluoroscopy unit is FLUORO1. An entry AE@address (or AE@network, e.g. 10.1.2.0/24)
# lets that AE in only from there.
NEPHRO_DICOM_ALLOWED_AES = env_list("NEPHRO_DICOM_ALLOWED_AES", ["FLUORO1"] if DEMO else [])
from nephro.dicom import peers as _dicom_peers  # noqa: E402 (no Django; validates the list)

try:
    _dicom_peers.parse(NEPHRO_DICOM_ALLOWED_AES)
except _dicom_peers.BadAllowList as _exc:
    raise ImproperlyConfigured(f"NEPHRO_DICOM_ALLOWED_AES: {_exc}") from None
NEPHRO_DICOM_DIR = Path(env_str("NEPHRO_DICOM_DIR", str(VAR_DIR / "dicom")))
NEPHRO_DICOM_CACHE_DIR = Path(env_str("NEPHRO_DICOM_CACHE_DIR", str(VAR_DIR / "dicom-cache")))
NEPHRO_DICOM_TIMEOUT = env_int("NEPHRO_DICOM_TIMEOUT", 30)
# Seconds to wait for an association request (ACSE), a message (DIMSE), and any
# network activity (idle association, a PDU arriving); each defaults to the above.
NEPHRO_DICOM_ACSE_TIMEOUT = env_int("NEPHRO_DICOM_ACSE_TIMEOUT", NEPHRO_DICOM_TIMEOUT)
NEPHRO_DICOM_DIMSE_TIMEOUT = env_int("NEPHRO_DICOM_DIMSE_TIMEOUT", NEPHRO_DICOM_TIMEOUT)
NEPHRO_DICOM_NETWORK_TIMEOUT = env_int("NEPHRO_DICOM_NETWORK_TIMEOUT", NEPHRO_DICOM_TIMEOUT)
# The maximum PDU length we announce; a longer PDU aborts the association.
NEPHRO_DICOM_MAX_PDU = env_int("NEPHRO_DICOM_MAX_PDU", 262144)
NEPHRO_DICOM_MAX_ASSOCIATIONS = env_int("NEPHRO_DICOM_MAX_ASSOCIATIONS", 10)
# Connections not yet associated, in all and per peer address: a new one over either
# cap closes the oldest such connection (nephro/dicom/gate.py).
NEPHRO_DICOM_MAX_PENDING = env_int("NEPHRO_DICOM_MAX_PENDING", 32)
NEPHRO_DICOM_MAX_PENDING_PER_PEER = env_int("NEPHRO_DICOM_MAX_PENDING_PER_PEER", 8)
# Instances larger than these are refused (status A920): pixels in one frame, pixels in
# all frames, bytes in the file.
NEPHRO_DICOM_MAX_FRAME_PIXELS = env_int("NEPHRO_DICOM_MAX_FRAME_PIXELS", 4096 * 4096)
NEPHRO_DICOM_MAX_PIXELS = env_int("NEPHRO_DICOM_MAX_PIXELS", 2**28)
NEPHRO_DICOM_MAX_FILE_BYTES = env_int("NEPHRO_DICOM_MAX_FILE_BYTES", 2**30)
# pynetdicom speed patches to apply (nephro/dicom/patches): "all", "none", or names;
# applied only on the pynetdicom version they were written for.
NEPHRO_DICOM_SPEED_PATCHES = env_str("NEPHRO_DICOM_SPEED_PATCHES", "all")
# fsync each stored file before it is published (survives power loss; slower).
NEPHRO_DICOM_FSYNC = env_bool("NEPHRO_DICOM_FSYNC", False)
NEPHRO_DICOM_MWL_LIMIT = env_int("NEPHRO_DICOM_MWL_LIMIT", 500)
# Where published images live (issue 18; docs/deploy.md): "file" (NEPHRO_DICOM_DIR on
# this machine) or "s3" (an S3-compatible object store shared by every host; the keys
# come from the usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables). The listener
# always receives into NEPHRO_DICOM_DIR first; with "s3" an image the store cannot take
# yet waits in NEPHRO_DICOM_DIR/.pending and is published every
# NEPHRO_IMAGE_STORE_RETRY_SECONDS.
NEPHRO_IMAGE_STORE = env_str("NEPHRO_IMAGE_STORE", "file")
if NEPHRO_IMAGE_STORE not in ("file", "s3"):
    raise ImproperlyConfigured(f"NEPHRO_IMAGE_STORE must be file or s3, not {NEPHRO_IMAGE_STORE!r}")
NEPHRO_S3_ENDPOINT_URL = env_str("NEPHRO_S3_ENDPOINT_URL", "")  # empty: AWS itself
NEPHRO_S3_BUCKET = env_str("NEPHRO_S3_BUCKET", "")
NEPHRO_S3_REGION = env_str("NEPHRO_S3_REGION", "us-east-1")
if NEPHRO_IMAGE_STORE == "s3" and not NEPHRO_S3_BUCKET:
    raise ImproperlyConfigured("NEPHRO_IMAGE_STORE=s3 needs NEPHRO_S3_BUCKET")
NEPHRO_IMAGE_STORE_RETRY_SECONDS = env_int("NEPHRO_IMAGE_STORE_RETRY_SECONDS", 30)
# The department's standard agent, sent as Requested Contrast Agent on the worklist.
NEPHRO_DICOM_CONTRAST_AGENT = env_str(
    "NEPHRO_DICOM_CONTRAST_AGENT", "Iodinated contrast (e.g. iopamidol 300 mgI/mL)"
)

# --- FHIR API, SMART authorization and HL7 v2 interface (issue 17; docs/interfaces.md) ---
# The public base URL clients use; links in Bundles and the SMART configuration use it.
NEPHRO_FHIR_BASE_URL = env_str("NEPHRO_FHIR_BASE_URL", "http://127.0.0.1:8000/fhir")
NEPHRO_FHIR_PAGE_MAX = env_int("NEPHRO_FHIR_PAGE_MAX", 200)
# Named so migrations that point at DOT's swappable Application resolve (nephro.fhir).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("NEPHRO_SMART_TOKEN_SECONDS", 3600),
    "SCOPES_BACKEND_CLASS": "nephro.fhir.oauth.SmartScopes",
    "OAUTH2_VALIDATOR_CLASS": "nephro.fhir.oauth.SmartValidator",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"] if DEMO else ["https"],
    # OAuth 2.0 Security BCP (RFC 9700): no implicit or password grant, S256 only, tokens
    # only in the Authorization header, `iss` in the authorization response, tokens
    # stored hashed, a replayed refresh token revokes its family.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
}
NEPHRO_HL7_HOST = env_str("NEPHRO_HL7_HOST", "127.0.0.1" if DEMO else "0.0.0.0")
NEPHRO_HL7_PORT = env_int("NEPHRO_HL7_PORT", 2575)
# Where results (ORU^R01) go: "host:port" of the hospital's interface engine; empty keeps
# them queued in the outbox until one is configured.
NEPHRO_HL7_RECEIVER = env_str("NEPHRO_HL7_RECEIVER", "")
NEPHRO_HL7_FACILITY = env_str("NEPHRO_HL7_FACILITY", "NEPHRO")
NEPHRO_HL7_TIMEOUT = env_int("NEPHRO_HL7_TIMEOUT", 10)
# --- end FHIR / HL7 ---

# --- Reports, report PDFs and uploads (issue 15: identity, signing, PDFs) ---
# Printed in the report PDF's heading.
NEPHRO_INSTITUTION = env_str("NEPHRO_INSTITUTION", "Nephro demo hospital" if DEMO else "")
# Longest report section (technique, findings or impression) and addendum, in characters:
# longer text is refused with a message instead of taking the PDF renderer minutes.
NEPHRO_REPORT_TEXT_MAX_CHARS = env_int("NEPHRO_REPORT_TEXT_MAX_CHARS", 20000)
# Largest DICOM upload on the exam page, in MB (one request, all files together).
NEPHRO_UPLOAD_MAX_MB = env_int("NEPHRO_UPLOAD_MAX_MB", 2048)
for _name in ("NEPHRO_REPORT_TEXT_MAX_CHARS", "NEPHRO_UPLOAD_MAX_MB"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1")
# --- end reports ---
