"""Turning a handler's outcome into a finished response, the same for every transport."""

from __future__ import annotations

import asyncio
import logging
import traceback
import warnings
from html import escape
from http import HTTPStatus
from typing import TYPE_CHECKING

from . import hdrs
from .exceptions import HTTPBadRequest, HTTPException
from .response import Response, StreamResponse
from .typedefs import RequestHandler

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = ["respond", "error_response", "RequestPayloadError"]


class RequestPayloadError(HTTPBadRequest):
    """The request body could not be read as sent (bad framing or content coding).

    Raised by the body's readers. A handler that lets it through answers 400: the
    client sent the broken body.
    """

    def __init__(self, message: str) -> None:
        super().__init__(text=message)
        self.args = (message,)
        self._message = message

    def __str__(self) -> str:
        return self._message


def error_response(
    request: BaseRequest | None,
    status: int = 500,
    *,
    exc: BaseException | None = None,
    message: str | None = None,
    debug: bool = False,
) -> Response:
    """The page sent when the server, not the handler, has to answer with an error.

    A 500 is aiohttp's page, byte for byte: HTML when the client accepts it, the
    traceback only in debug mode. Other statuses say their title and ``message``.
    """
    title = f"{status} {_phrase(status)}"
    content_type = "text/plain"
    if status != 500:
        text = f"{title}\n\n{message}" if message else title
    else:
        trace = "".join(traceback.format_exception(exc)) if debug and exc is not None else ""
        accept = request.headers.get(hdrs.ACCEPT, "") if request is not None else ""
        if "text/html" in accept:
            detail = f"<h2>Traceback:</h2>\n<pre>{escape(trace)}</pre>" if trace else _TROUBLE
            text = (
                f"<html><head><title>{title}</title></head><body>\n"
                f"<h1>{title}</h1>\n{detail}\n</body></html>\n"
            )
            content_type = "text/html"
        else:
            text = f"{title}\n\n{trace or _TROUBLE}"
    resp = Response(status=status, text=text, content_type=content_type)
    resp.force_close()
    return resp


_TROUBLE = HTTPStatus.INTERNAL_SERVER_ERROR.description  # "Server got itself in trouble"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def respond(
    handler: RequestHandler,
    request: BaseRequest,
    logger: logging.Logger,
    debug: bool = False,  # not keyword-only: each server calls this once per request
) -> StreamResponse | None:
    """Run ``handler`` and send what it returned or raised.

    Returns the response that was sent, or None when the connection had to be
    aborted (the handler failed after the head was already sent). Cancellation and
    exceptions that are not ``Exception`` propagate: the transport drops the connection.
    """
    try:
        try:
            response = await handler(request)
        except HTTPException as exc:
            # Sent as the response, and kept: its traceback would hold this frame, which
            # holds the exception, a reference cycle freed only by the garbage collector.
            response = exc.with_traceback(None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failed = _handler_failed(request, logger, exc, debug)
            if failed is None:
                return None
            response = failed
        else:
            if response.__class__ is not Response:
                response = _check_result(response, logger, request, debug)
        try:
            await response._send(request)
        except ConnectionError:
            request._sink.abort()
            return None
        except Exception:
            if request._sink_started():
                logger.exception("Error sending the response")
                request._sink.abort()
                return None
            logger.exception("Error preparing the response")
            response = error_response(request, 500, debug=debug)
            await response.prepare(request)
            await response.write_eof()
        return response
    finally:
        if request._form_files:
            request._close_form_files()


def _handler_failed(
    request: BaseRequest, logger: logging.Logger, exc: Exception, debug: bool
) -> Response | None:
    """What answers a handler's failure: an error page, or None when no one is left to
    answer or the head is already out (the connection is then aborted)."""
    if isinstance(exc, TimeoutError):
        # As aiohttp: a timeout escaping the handler is the gateway's fault, a 504.
        if debug:
            logger.debug("Request handler timed out.", exc_info=exc)
        return _failed(request, logger, 504, exc, debug)
    if isinstance(exc, ConnectionError) and _client_left(request):
        # The client went away mid-exchange (its body cut short, a write to a closed
        # connection): no one to answer and no fault of the server's. A line at ERROR
        # per vanished client would let any client flood the log.
        logger.debug("Client disconnected during the request: %r", exc)
        request._sink.abort()
        return None
    return _failed(request, logger, 500, exc, debug)


def _client_left(request: BaseRequest) -> bool:
    transport = request.transport
    return transport is None or bool(transport.is_closing())


def _failed(
    request: BaseRequest, logger: logging.Logger, status: int, exc: Exception, debug: bool
) -> Response | None:
    """Log a handler's failure; the error page to send, or None once the head is out
    (the connection is aborted: a truncated body must not pass for a whole one)."""
    logger.exception("Error handling request from %s", request.remote, exc_info=exc)
    if request._sink_started():
        request._sink.abort()
        return None
    return error_response(request, status, exc=exc, debug=debug)


def _check_result(
    response: object, logger: logging.Logger, request: BaseRequest, debug: bool
) -> StreamResponse:
    if isinstance(response, HTTPException):
        warnings.warn(
            "returning HTTPException object is deprecated (#2415) and will be removed, "
            "please raise the exception instead",
            DeprecationWarning,
            stacklevel=3,
        )
        return response
    if isinstance(response, StreamResponse):
        return response
    if response is None:
        message = "Missing return statement on request handler"
    else:
        message = f"Web-handler should return a response instance, got {response!r}"
    logger.error(message)
    return error_response(request, 500, debug=debug)
