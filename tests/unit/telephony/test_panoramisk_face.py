"""The typed face in contact_center/telephony/_panoramisk.py still matches panoramisk."""

import ast
import inspect
from pathlib import Path

import pytest

from contact_center.telephony import _panoramisk

FACE = Path(_panoramisk.__file__)


def _declared_classes() -> dict[str, ast.ClassDef]:
    tree = ast.parse(FACE.read_text(encoding="utf-8"))
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    return {node.name: node for node in guarded.body if isinstance(node, ast.ClassDef)}


def _declared_parameters(function: ast.FunctionDef) -> list[str]:
    """Parameter names after self or cls, **kwargs left out."""
    args = function.args
    return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)][1:]


def test_every_class_of_the_face_is_declared() -> None:
    assert set(_declared_classes()) == {"Message", "Action", "AMIProtocol", "Manager"}


@pytest.mark.parametrize("name", sorted(_declared_classes()))
def test_declared_methods_exist_with_these_parameters(name: str) -> None:
    runtime = getattr(_panoramisk, name)
    for node in _declared_classes()[name].body:
        if not isinstance(node, ast.FunctionDef):
            continue
        attribute = inspect.getattr_static(runtime, node.name)
        if isinstance(attribute, property):
            continue
        signature = inspect.signature(getattr(runtime, node.name))
        kinds = {p.kind for p in signature.parameters.values()}
        if inspect.Parameter.VAR_POSITIONAL in kinds:
            continue  # e.g. Action(*args, **kwargs): nothing to compare by name
        actual = [p.name for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        if not isinstance(attribute, classmethod):
            actual = actual[1:]  # looked up on the class: self is still there
        assert actual == _declared_parameters(node), f"{name}.{node.name}"
