"""The OAuth callback page and the HTML builders of `trimcp.utilities.ui`: every value shown
is text, never markup (no XSS), and each page is a well-formed document with a CSP."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser

import pytest

from trimcp.client.oauth_callback import (
    ACCESS_DENIED_MESSAGE,
    NO_CODE_MESSAGE,
    NO_STATE_MESSAGE,
    CallbackResponse,
    OAuthCallbackResult,
    create_callback_html,
    create_oauth_callback_server,
    respond_to_callback,
)
from trimcp.utilities.ui import (
    DEFAULT_CSP_POLICY,
    LOGO_URL,
    SECURITY_HEADERS,
    create_button_group,
    create_detail_box,
    create_info_box,
    create_logo,
    create_page,
    create_secure_html_response,
    create_status_message,
)

HOSTILE = [
    "<script>alert(document.cookie)</script>",
    "<img src=x onerror=alert(1)>",
    '" onload="alert(1)',
    "' onmouseover='alert(1)",
    "</div></body><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "<!-- --><svg/onload=alert(1)>",
    "javascript:alert(1)",
    "&lt;script&gt;",
    "&<>\"'/",
]

VOID = {"meta", "img", "br", "input", "link"}


class Page(HTMLParser):
    """A parsed document: its element structure, attributes and text, checked well formed."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.doctype: str | None = None
        self.structure: list[tuple[str, tuple[str, ...]]] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []
        self.open: list[str] = []
        self.feed(document)
        self.close()
        assert self.open == [], f"unclosed elements: {self.open}"

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.structure.append((tag, tuple(name for name, _ in attrs)))
        self.attributes.extend((tag, name, value) for name, value in attrs)
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.open.pop()

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        raise AssertionError(f"a comment got into the page: {data!r}")

    def tags(self) -> list[str]:
        return [tag for tag, _ in self.structure]

    def attribute(self, tag: str, name: str) -> list[str | None]:
        return [value for t, n, value in self.attributes if (t, n) == (tag, name)]


def assert_well_formed_page(document: str) -> Page:
    page = Page(document)
    assert page.doctype is not None and page.doctype.lower() == "doctype html"
    assert page.tags()[:3] == ["html", "head", "meta"]
    assert page.tags().count("body") == 1
    assert "script" not in page.tags()
    assert not [name for _, name, _ in page.attributes if name.startswith("on")]
    assert page.attribute("meta", "charset") == ["utf-8"]
    return page


# -- the callback page: each field ------------------------------------------------------


def test_callback_page_is_a_well_formed_document_with_a_csp() -> None:
    for document in (
        create_callback_html("", server_url="https://example.com/mcp"),
        create_callback_html("Authorization failed: nope", is_success=False),
    ):
        page = assert_well_formed_page(document)
        assert page.attribute("meta", "http-equiv") == ["Content-Security-Policy"]
        assert page.attribute("meta", "content")[0] == DEFAULT_CSP_POLICY
        assert "script-src" not in DEFAULT_CSP_POLICY  # default-src 'none' forbids scripts
        assert DEFAULT_CSP_POLICY.startswith("default-src 'none'")
        # the logo is inline: the page fetches nothing, so the callback URL's code never
        # leaves the machine as a Referer
        assert page.attribute("img", "src") == [LOGO_URL]
        assert LOGO_URL.startswith("data:image/svg+xml,")


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_failure_message_is_shown_as_text(payload: str) -> None:
    benign = Page(create_callback_html("plain", is_success=False))
    page = assert_well_formed_page(create_callback_html(payload, is_success=False))
    assert page.structure == benign.structure
    assert payload in page.text  # shown verbatim, as text
    assert "Authentication failed" in page.text


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_server_url_is_shown_as_text(payload: str) -> None:
    benign = Page(create_callback_html("", server_url="https://example.com"))
    page = assert_well_formed_page(create_callback_html("", server_url=payload))
    assert page.structure == benign.structure
    assert f"Connected to: {payload}" in page.text
    assert "Authentication successful" in page.text


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_title_is_shown_as_text(payload: str) -> None:
    benign = Page(create_callback_html("", title="plain"))
    page = assert_well_formed_page(create_callback_html("", title=payload))
    assert page.structure == benign.structure
    assert payload in page.text


def test_success_without_server_url_shows_no_detail_box() -> None:
    page = assert_well_formed_page(create_callback_html("ignored on success"))
    assert "ignored on success" not in "".join(page.text)
    assert "info-box-mono error centered" not in page.attribute("div", "class")


# -- the callback endpoint's answer -------------------------------------------------------


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_error_description_fails_the_flow_and_is_escaped(payload: str) -> None:
    result = OAuthCallbackResult()
    status, document = respond_to_callback(
        {"error": "invalid_request", "error_description": payload, "state": "s"},
        result=result,
    )
    assert status == 400
    page = assert_well_formed_page(document)
    assert f"Authorization failed: {payload}" in page.text
    assert isinstance(result.error, RuntimeError)
    assert str(result.error) == f"Authorization failed: {payload}"
    assert result.code is None


def test_error_without_description_says_unknown_error() -> None:
    status, document = respond_to_callback({"error": "<b>server_error</b>"})
    assert status == 400
    assert "Authorization failed: Unknown error" in Page(document).text


def test_access_denied_shows_a_fixed_message() -> None:
    result = OAuthCallbackResult()
    status, document = respond_to_callback(
        {"error": "access_denied", "error_description": "<script>x</script>"}, result=result
    )
    assert status == 400
    page = assert_well_formed_page(document)
    assert ACCESS_DENIED_MESSAGE in page.text
    assert "<script>x</script>" not in "".join(page.text)
    assert str(result.error) == ACCESS_DENIED_MESSAGE


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"state": "s"}, NO_CODE_MESSAGE),
        ({"code": ""}, NO_CODE_MESSAGE),
        ({"code": "c"}, NO_STATE_MESSAGE),
    ],
)
def test_missing_code_or_state_fails_the_flow(query: dict[str, str], message: str) -> None:
    result = OAuthCallbackResult()
    status, document = respond_to_callback(query, result=result)
    assert status == 400
    assert message in assert_well_formed_page(document).text
    assert str(result.error) == message
    assert (result.code, result.state) == (None, None)


@pytest.mark.parametrize("payload", HOSTILE)
def test_success_hands_over_code_and_state_and_escapes_the_server_url(payload: str) -> None:
    result = OAuthCallbackResult()
    status, document = respond_to_callback(
        {"code": payload, "state": payload, "extra": "<x>"}, server_url=payload, result=result
    )
    assert status == 200
    page = assert_well_formed_page(document)
    assert f"Connected to: {payload}" in page.text
    assert (result.code, result.state, result.error) == (payload, payload, None)
    # the code itself is never shown on the page
    assert page.text.count(f"Connected to: {payload}") == 1


def test_empty_state_is_a_state() -> None:
    result = OAuthCallbackResult()
    status, _ = respond_to_callback({"code": "c", "state": ""}, result=result)
    assert status == 200
    assert (result.code, result.state) == ("c", "")


def test_callback_response_keeps_known_parameters_only() -> None:
    callback = CallbackResponse.from_dict({"code": "c", "state": "s", "iss": "x"})
    assert callback == CallbackResponse(code="c", state="s")
    assert callback.to_dict() == {"code": "c", "state": "s"}


def test_callback_server_is_refused_naming_the_authorization_issue() -> None:
    with pytest.raises(NotImplementedError, match="authorization issue"):
        create_oauth_callback_server(port=0, callback_path="/callback")


# -- the builders of trimcp.utilities.ui ---------------------------------------------------


@pytest.mark.parametrize("payload", HOSTILE)
def test_every_builder_escapes_every_value(payload: str) -> None:
    fragments = [
        create_status_message(payload),
        create_status_message(payload, is_success=False),
        create_info_box(payload, is_error=True, centered=True, monospace=True),
        create_detail_box([(payload, payload)]),
        create_button_group([(payload, payload, payload)]),
        create_logo(payload, alt_text=payload),
    ]
    for fragment in fragments:
        page = assert_well_formed_page(create_page(fragment, title=payload))
        assert payload in page.text
        assert len(page.structure) == len(
            Page(create_page(fragment.replace(payload, "x"))).structure
        )
    button = Page(create_button_group([(payload, payload, payload)]))
    assert button.attribute("button", "value") == [payload]
    assert button.attribute("button", "class") == [payload]
    logo = Page(create_logo(payload, alt_text=payload))
    assert logo.attribute("img", "src") == [payload]
    assert logo.attribute("img", "alt") == [payload]


def test_special_characters_become_entities() -> None:
    fragment = create_info_box("&<>\"'")
    assert "&amp;&lt;&gt;&quot;&#x27;" in fragment


def test_info_box_classes() -> None:
    assert Page(create_info_box("x")).attribute("div", "class") == ["info-box"]
    box = Page(create_info_box("x", is_error=True, centered=True, monospace=True))
    assert box.attribute("div", "class") == ["info-box-mono error centered"]


def test_csp_policy_can_be_replaced_or_left_out() -> None:
    hostile = "default-src 'none'\"><script>alert(1)</script>"
    page = assert_well_formed_page(create_page("x", csp_policy=hostile))
    assert page.attribute("meta", "content")[0] == hostile
    page = assert_well_formed_page(create_page("x", csp_policy=""))
    assert page.attribute("meta", "http-equiv") == []


def test_secure_response_sends_the_security_headers() -> None:
    document = create_callback_html("x", is_success=False)
    response = create_secure_html_response(document, status_code=400)
    assert response.status_code == 400
    assert response.body == document.encode()
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["x-frame-options"] == "DENY"


def test_importing_the_pages_loads_no_http_stack() -> None:
    code = (
        "import sys, trimcp.client.oauth_callback;"
        "print(sorted(m for m in ('starlette', 'httpx', 'hypercorn') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
