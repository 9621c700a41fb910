"""Response headers for every page: no caching of anything a view answers, and a strict
Content-Security-Policy.

Views answer with patient data (or a page that may show some), so no response of a view
is kept by the browser or a proxy (`Cache-Control: no-store`); static files are served by
WhiteNoise before this middleware and stay cacheable. HTML pages get a CSP that allows
scripts and styles only from our own origin or carrying this response's nonce
(`{{ csp_nonce }}` in templates), so an injected <script> does not run.
"""

from __future__ import annotations

import secrets

from django.utils.cache import add_never_cache_headers

POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeaders:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        add_never_cache_headers(response)
        if response.get("Content-Type", "").startswith("text/html"):
            response["Content-Security-Policy"] = POLICY.format(nonce=request.csp_nonce)
        return response


def csp_nonce(request) -> dict[str, str]:
    """Template context: the nonce an inline <script> or <style> needs to run."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
