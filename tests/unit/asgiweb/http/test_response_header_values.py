"""asgiweb.http.response_headers, sans-IO: what a response refuses to send, and the
values it formats itself."""

from __future__ import annotations

import datetime

import pytest
from multidict import CIMultiDict

from asgiweb.http.request_headers import ETag
from asgiweb.http.response_headers import (
    attachment_disposition,
    check_headers,
    checked_reason,
    content_headers,
    etag_value,
    last_modified_value,
    text_type,
)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("X-Ok", "tab\tinside", None),
        ("X-Bad", "line\r\nInjected: 1", "Header value of 'X-Bad'"),
        ("Bad Name", "v", "Invalid header name 'Bad Name'"),
        ("", "v", "Invalid header name ''"),
    ],
)
def test_check_headers(name: str, value: str, error: str | None) -> None:
    headers = CIMultiDict([("Content-Type", "text/plain"), (name, value)])
    if error is None:
        check_headers(headers)
    else:
        with pytest.raises(ValueError, match=error):
            check_headers(headers)


def test_checked_reason() -> None:
    assert checked_reason(404, None) == "Not Found"
    assert checked_reason(599, None) == ""
    assert checked_reason(200, "Fine") == "Fine"
    with pytest.raises(ValueError, match="Reason cannot contain"):
        checked_reason(200, "Fine\r\nX: 1")


def test_etag_value() -> None:
    assert etag_value("*") == "*"
    assert etag_value("abc") == '"abc"'
    assert etag_value(ETag("abc", is_weak=True)) == 'W/"abc"'
    with pytest.raises(ValueError, match="not a valid etag"):
        etag_value('a"b')
    with pytest.raises(ValueError, match="Unsupported etag type: int"):
        etag_value(1)


def test_last_modified_value() -> None:
    expected = "Thu, 01 Jan 1970 00:00:02 GMT"
    assert last_modified_value(1.5) == expected  # rounded up to the second
    assert last_modified_value(datetime.datetime(1970, 1, 1, 0, 0, 2, tzinfo=datetime.UTC)) == (
        expected
    )
    assert last_modified_value("anything") == "anything"
    with pytest.raises(TypeError, match="Unsupported type for last_modified: list"):
        last_modified_value([])


def test_attachment_disposition() -> None:
    assert attachment_disposition({"filename": "a.txt"}) == 'attachment; filename="a.txt"'
    assert attachment_disposition({"filename": 'é"\r\n'}) == (
        "attachment; filename*=utf-8''%C3%A9%22%0D%0A"
    )


def test_text_type() -> None:
    assert text_type("text/html") == "text/html; charset=utf-8"
    assert text_type("text/html; charset=latin-1") is None
    assert text_type("text/html\r\n") is None
    assert text_type(None) is None


def test_content_headers() -> None:
    headers, encoded = content_headers(None, None, "latin-1", "é")
    assert headers["Content-Type"] == "text/plain; charset=latin-1"
    assert encoded == "é".encode("latin-1")
    headers, encoded = content_headers({"Content-Type": "text/x"}, None, None, "é")
    assert encoded is None  # the Content-Type given decides the encoding
    with pytest.raises(ValueError, match="passing both Content-Type header"):
        content_headers({"Content-Type": "text/x"}, "text/y", None, None)
    with pytest.raises(ValueError, match="charset must not be in content_type"):
        content_headers(None, "text/plain; charset=utf-8", None, None)
