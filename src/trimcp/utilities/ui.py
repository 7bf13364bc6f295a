"""HTML pages shown to a person in a browser (FastMCP's `fastmcp.utilities.ui`).

Owns the page shell (`create_page`: doctype, charset, a Content-Security-Policy), the
fragments pages are built from (`create_logo`, `create_status_message`, `create_info_box`,
`create_detail_box`, `create_button_group`), their CSS (the `*_STYLES` constants, to pass
as `additional_styles`), and `create_secure_html_response` for serving a page.

The rule every builder follows: **a value given to a builder is text, never markup.** Each
one escapes what it is given (quotes included, so a value cannot leave an attribute either);
the only markup in a page is the builders' own. Such pages show values that come from
elsewhere (an OAuth server's `error_description`, a redirect's query, a server URL), and a
page served from `127.0.0.1` must not run a script someone put in a query string. The
default policy (`DEFAULT_CSP_POLICY`) forbids scripts, frames, forms to other origins and
any fetch but images, as a second line behind the escaping.

The default logo is an inline image (a `data:` URL), so a page loads nothing from the
network and a callback URL's query (an authorization code) never leaves the machine as a
`Referer`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.responses import HTMLResponse

__all__ = [
    "BASE_STYLES",
    "BUTTON_STYLES",
    "DEFAULT_CSP_POLICY",
    "DETAILS_STYLES",
    "DETAIL_BOX_STYLES",
    "FASTMCP_LOGO_URL",
    "HELPER_TEXT_STYLES",
    "INFO_BOX_STYLES",
    "LOGO_URL",
    "REDIRECT_SECTION_STYLES",
    "SECURITY_HEADERS",
    "STATUS_MESSAGE_STYLES",
    "TOOLTIP_STYLES",
    "create_button_group",
    "create_detail_box",
    "create_info_box",
    "create_logo",
    "create_page",
    "create_secure_html_response",
    "create_status_message",
]

LOGO_URL = (
    "data:image/svg+xml,"
    "%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 64 64'%3E"
    "%3Crect width='64' height='64' rx='14' fill='%230ea5e9'/%3E"
    "%3Cpath d='M18 22h28M32 22v24' stroke='white' stroke-width='7' "
    "stroke-linecap='round'/%3E%3C/svg%3E"
)
"""The default logo: an inline SVG, so that a page fetches nothing from the network."""

FASTMCP_LOGO_URL = LOGO_URL
"""FastMCP's name for the default logo's URL (trimcp's is `LOGO_URL`, an inline image)."""

DEFAULT_CSP_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "base-uri 'none'; form-action 'self'"
)
"""No scripts, frames, fonts or fetches; inline styles; images over HTTPS or inline; no
`<base>`; forms post only to the page's own origin."""

SECURITY_HEADERS: dict[str, str] = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""What `create_secure_html_response` sends with a page: not framed (clickjacking), not
sniffed, no `Referer` (a callback URL carries a code), not cached."""

_MONO_FONT = "ui-monospace, 'SF Mono', Menlo, Consolas, 'Liberation Mono', monospace"

BASE_STYLES = """
    *, *::before, *::after { box-sizing: border-box; margin: 0; padding: 0; }
    body {
        font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif;
        min-height: 100vh; display: flex; align-items: center; justify-content: center;
        background: #f6f7f9; color: #111827;
    }
    .container {
        width: 100%; max-width: 36rem; margin: 1rem; padding: 2.75rem 2.25rem;
        background: #fff; border: 1px solid #e5e7eb; border-radius: 1rem;
        box-shadow: 0 4px 12px rgba(17, 24, 39, 0.08); text-align: center;
    }
    @media (max-width: 640px) { .container { margin: 0.5rem; padding: 2rem 1.25rem; } }
    .logo { display: block; width: 64px; height: auto; margin: 0 auto 1.5rem; }
    h1 { font-size: 1.5rem; font-weight: 600; margin-bottom: 1.5rem; }
"""
"""The page shell's CSS: body, `.container`, `.logo`, `h1` (always included)."""

BUTTON_STYLES = """
    .button-group { display: flex; gap: 0.75rem; justify-content: center; margin-top: 1.5rem; }
    button {
        min-width: 7.5rem; padding: 0.75rem 2rem; border: none; border-radius: 0.5rem;
        font: inherit; font-weight: 500; color: #fff; cursor: pointer;
    }
    button:hover { filter: brightness(1.08); }
    .btn-approve, .btn-primary { background: #059669; }
    .btn-deny, .btn-secondary { background: #6b7280; }
"""
"""CSS for `create_button_group`."""

INFO_BOX_STYLES = f"""
    .info-box, .info-box-mono {{
        margin: 1.25rem 0; padding: 1rem; border-radius: 0.5rem; text-align: left;
        line-height: 1.5; overflow-wrap: anywhere;
    }}
    .info-box {{ background: #f0f9ff; border: 1px solid #bae6fd; color: #374151; }}
    .info-box-mono {{
        background: #f9fafb; border: 1px solid #e5e7eb; color: #4b5563;
        font-family: {_MONO_FONT}; font-size: 0.875rem;
    }}
    .info-box.centered, .info-box-mono.centered {{ text-align: center; }}
    .info-box.error, .info-box-mono.error {{
        background: #fef2f2; border-color: #fecaca; color: #991b1b;
    }}
    .info-box p, .warning-box p {{ margin-bottom: 0.5rem; }}
    .info-box p:last-child, .warning-box p:last-child {{ margin-bottom: 0; }}
    .info-box strong, .warning-box strong, .warning-box a {{ color: #0284c7; font-weight: 600; }}
    .warning-box {{
        margin-bottom: 1.5rem; padding: 1rem; border-radius: 0.5rem; text-align: center;
        background: #f0f9ff; border: 1px solid #bae6fd; color: #4b5563;
    }}
"""
"""CSS for `create_info_box` (`.info-box`, `.info-box-mono`, `.error`, `.centered`) and
`.warning-box`."""

STATUS_MESSAGE_STYLES = """
    .status-message {
        display: flex; align-items: center; justify-content: center; gap: 0.75rem;
        margin-bottom: 1.5rem;
    }
    .status-icon {
        display: inline-flex; align-items: center; justify-content: center; flex-shrink: 0;
        width: 2rem; height: 2rem; border-radius: 0.5rem; font-size: 1.25rem;
    }
    .status-icon.success { background: #d1fae5; color: #047857; }
    .status-icon.error { background: #fee2e2; color: #b91c1c; }
    .message { font-size: 1.125rem; font-weight: 600; line-height: 1.6; text-align: left; }
"""
"""CSS for `create_status_message`."""

DETAIL_BOX_STYLES = f"""
    .detail-box {{
        margin-bottom: 1.5rem; padding: 0.5rem 1rem; text-align: left;
        background: #f9fafb; border: 1px solid #e5e7eb; border-radius: 0.5rem;
    }}
    .detail-row {{ display: flex; padding: 0.5rem 0; border-bottom: 1px solid #e5e7eb; }}
    .detail-row:last-child {{ border-bottom: none; }}
    .detail-label {{
        flex-shrink: 0; min-width: 10rem; padding-right: 1rem;
        font-size: 0.875rem; font-weight: 600; color: #6b7280;
    }}
    .detail-value {{
        flex: 1; font-family: {_MONO_FONT}; font-size: 0.75rem; overflow-wrap: anywhere;
    }}
"""
"""CSS for `create_detail_box`."""

REDIRECT_SECTION_STYLES = f"""
    .redirect-section {{
        margin-bottom: 1.5rem; padding: 1rem; text-align: left;
        background: #fffbeb; border: 1px solid #fcd34d; border-radius: 0.5rem;
    }}
    .redirect-section .label {{
        display: block; margin-bottom: 0.5rem; font-size: 0.875rem; font-weight: 600;
        color: #6b7280;
    }}
    .redirect-section .value {{
        font-family: {_MONO_FONT}; font-size: 0.875rem; overflow-wrap: anywhere;
    }}
"""
"""CSS for a `.redirect-section` with a `.label` and a `.value`."""

DETAILS_STYLES = """
    details { margin-bottom: 1.5rem; text-align: left; }
    summary {
        padding: 0.5rem; border-radius: 0.25rem; cursor: pointer;
        font-size: 0.875rem; font-weight: 600; color: #6b7280;
    }
    summary:hover { background: #f9fafb; }
"""
"""CSS for `<details>`/`<summary>` sections."""

HELPER_TEXT_STYLES = """
    .close-instruction, .help-text { margin-top: 1.5rem; font-size: 0.875rem; color: #6b7280; }
"""
"""CSS for `.close-instruction` and `.help-text`."""

TOOLTIP_STYLES = """
    .help-link-container { position: fixed; right: 1.5rem; bottom: 1.5rem; font-size: 0.875rem; }
    .help-link {
        position: relative; display: inline-block; cursor: help; text-decoration: none;
        color: #6b7280; border-bottom: 1px dotted #9ca3af;
    }
    .help-link:hover { color: #111827; }
    .tooltip {
        position: absolute; right: 0; bottom: 100%; width: 18rem;
        max-width: calc(100vw - 3rem); margin-bottom: 0.5rem; padding: 0.75rem 1rem;
        border-radius: 0.5rem; background: #1f2937; color: #fff; text-align: left;
        font-size: 0.8125rem; line-height: 1.5; opacity: 0; visibility: hidden;
    }
    .help-link:hover .tooltip { opacity: 1; visibility: visible; }
    .tooltip-link { color: #93c5fd; text-decoration: underline; }
"""
"""CSS for a `.help-link` with a hover `.tooltip`."""


def _text(value: str) -> str:
    """`value` as HTML text or attribute content: `& < > " '` escaped."""
    return html.escape(value, quote=True)


def create_page(
    content: str,
    title: str = "trimcp",
    additional_styles: str = "",
    csp_policy: str = DEFAULT_CSP_POLICY,
) -> str:
    """A complete HTML document around `content`.

    Args:
        content: the body's markup, as built from this module's fragments (inserted as is:
            this is the one argument that is markup, not text).
        title: the page title (escaped).
        additional_styles: CSS added after `BASE_STYLES` (the `*_STYLES` constants).
        csp_policy: the Content-Security-Policy put in a `<meta>` tag; `""` leaves the tag
            out (for a response that sends the policy as a header instead).
    """
    csp_meta = (
        f'<meta http-equiv="Content-Security-Policy" content="{_text(csp_policy)}">'
        if csp_policy
        else ""
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        f"{csp_meta}\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(title)}</title>\n"
        f"<style>{BASE_STYLES}{additional_styles}</style>\n"
        "</head>\n"
        f"<body>\n{content}\n</body>\n"
        "</html>\n"
    )


def create_logo(icon_url: str | None = None, alt_text: str = "trimcp") -> str:
    """An `<img class="logo">`: `icon_url` (escaped), or the inline default logo."""
    return f'<img src="{_text(icon_url or LOGO_URL)}" alt="{_text(alt_text)}" class="logo">'


def create_status_message(message: str, *, is_success: bool = True) -> str:
    """A status line: a check mark (or a cross when `is_success` is false) and `message`."""
    icon, kind = ("\u2713", "success") if is_success else ("\u2715", "error")
    return (
        '<div class="status-message">'
        f'<span class="status-icon {kind}" aria-hidden="true">{icon}</span>'
        f'<div class="message">{_text(message)}</div>'
        "</div>"
    )


def create_info_box(
    content: str,
    *,
    is_error: bool = False,
    centered: bool = False,
    monospace: bool = False,
) -> str:
    """A box around the text `content` (escaped).

    Args:
        content: the text shown.
        is_error: red, for an error.
        centered: centre the text.
        monospace: the grey code-font box (`.info-box-mono`) instead of the blue one.
    """
    classes = ["info-box-mono" if monospace else "info-box"]
    if is_error:
        classes.append("error")
    if centered:
        classes.append("centered")
    return f'<div class="{" ".join(classes)}">{_text(content)}</div>'


def create_detail_box(rows: Iterable[tuple[str, str]]) -> str:
    """A box of `label: value` rows (both escaped)."""
    rows_html = "".join(
        '<div class="detail-row">'
        f'<div class="detail-label">{_text(label)}:</div>'
        f'<div class="detail-value">{_text(value)}</div>'
        "</div>"
        for label, value in rows
    )
    return f'<div class="detail-box">{rows_html}</div>'


def create_button_group(buttons: Iterable[tuple[str, str, str]]) -> str:
    """Submit buttons named `action`, one per `(text, value, css_class)` (all escaped)."""
    buttons_html = "".join(
        f'<button type="submit" name="action" value="{_text(value)}" '
        f'class="{_text(css_class)}">{_text(text)}</button>'
        for text, value, css_class in buttons
    )
    return f'<div class="button-group">{buttons_html}</div>'


def create_secure_html_response(html: str, status_code: int = 200) -> HTMLResponse:
    """A Starlette `HTMLResponse` of the page `html` with `SECURITY_HEADERS`."""
    from starlette.responses import HTMLResponse  # the HTTP stack only when serving a page

    return HTMLResponse(content=html, status_code=status_code, headers=SECURITY_HEADERS)
