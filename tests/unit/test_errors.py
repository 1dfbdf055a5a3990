"""Every exception of the package survives pickling with its fields: errors cross process
boundaries (transfer processes, dask workers, process pools; CS-SI/eodag#1809)."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
from typing import Any

import click
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

import eodag_peps_plus
from eodag_peps_plus.exceptions import BackendError, PepsPlusError


def _modules() -> list[str]:
    names = [eodag_peps_plus.__name__]
    for info in pkgutil.walk_packages(eodag_peps_plus.__path__, eodag_peps_plus.__name__ + "."):
        names.append(info.name)
    return names


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _modules():
        if name == "eodag_peps_plus.__main__":
            continue
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__.startswith("eodag_peps_plus")
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[key] for key in sorted(found)]


CLASSES = _exception_classes()
#: Private signals are raised and caught inside one module (a member fetch stopping with its
#: result): they never cross a process, so they need not pickle.
SHARED = [cls for cls in CLASSES if not cls.__qualname__.startswith("_")]

_text = st.text(max_size=30)
_status = st.none() | st.integers(100, 599)


def _arguments(cls: type[BaseException]) -> st.SearchStrategy[tuple[list[Any], dict[str, Any]]]:
    """Arguments for ``cls``'s constructor, by the names and annotations of its parameters."""
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except ValueError:
        parameters = []
    positional: list[st.SearchStrategy[Any]] = []
    keywords: dict[str, st.SearchStrategy[Any]] = {}
    for parameter in parameters:
        if parameter.kind is parameter.VAR_KEYWORD:
            continue
        if parameter.kind is parameter.VAR_POSITIONAL:
            positional.append(_text)
            continue
        annotation = str(parameter.annotation)
        strategy: st.SearchStrategy[Any] = _status if "int" in annotation else _text
        if parameter.name == "url":
            strategy = st.none() | st.sampled_from(
                ["https://user:secret@peps.example/x?q=1", "http://127.0.0.1:8080/a", "/relative"]
            )
        elif "None" in annotation:
            strategy = st.none() | strategy
        if parameter.kind is parameter.KEYWORD_ONLY:
            keywords[parameter.name] = strategy
        else:
            positional.append(strategy)
    return st.tuples(st.tuples(*positional).map(list), st.fixed_dictionaries(keywords))


def test_every_package_error_is_found() -> None:
    names = {cls.__name__ for cls in CLASSES}
    assert {"BackendError", "FieldError", "GeometryError", "InvalidQueryError"} <= names
    assert len(CLASSES) >= 20


@pytest.mark.parametrize("cls", SHARED, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_errors_pickle_with_their_fields(cls: type[BaseException], data: st.DataObject) -> None:
    args, kwargs = data.draw(_arguments(cls))
    error = cls(*args, **kwargs)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert copy.args == error.args
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
    if isinstance(error, BackendError):
        assert (copy.server, copy.url, copy.excerpt) == (error.server, error.url, error.excerpt)
        assert "secret" not in str(copy.url)


def _reply(status: int, body: bytes, url: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.url = url
    return response


def test_from_response_is_the_one_conversion_point() -> None:
    error = BackendError.from_response(
        "PEPS search: HTTP 502",
        _reply(
            502, b"<html>\n  Bad   gateway" + b" x" * 500, "https://u:pw@peps.example:8443/s?q=1"
        ),
    )
    assert error.status_code == 502
    assert error.url == "https://peps.example:8443/s?q=1"
    assert error.server == "https://peps.example:8443"
    assert error.excerpt is not None and error.excerpt.startswith("<html> Bad gateway x")
    assert len(error.excerpt) == 200
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.status_code, copy.server, copy.excerpt) == (502, error.server, error.excerpt)


def test_a_streamed_body_is_never_read_for_an_excerpt() -> None:
    response = _reply(503, b"", "https://peps.example/d")
    response._content = False  # type: ignore[assignment]  # requests' "not read yet"
    error = BackendError.from_response("archive: HTTP 503", response)
    assert (error.status_code, error.excerpt) == (503, None)


def test_errors_raised_on_purpose_are_package_errors() -> None:
    """Callers catch ``PepsPlusError`` for anything the package raises on purpose; the rest
    are the sandbox's own errors, transport signals raised inside ``requests`` (converted to
    ``BackendError`` where they are caught), the CLI's exits (click prints them) and private
    signals of one module."""
    outside = {
        cls.__qualname__
        for cls in CLASSES
        if not issubclass(cls, (PepsPlusError, requests.RequestException, click.ClickException))
        and ".sandbox" not in cls.__module__
        and not cls.__qualname__.startswith("_")
    }
    assert outside <= {"TransferProcessLost"}
