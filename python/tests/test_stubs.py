"""The stubs of the native module (peo/_peo.pyi) cannot drift: every name they declare
exists in the compiled module with the same parameters, and every public name of the
module is declared."""

import ast
import inspect
import pathlib

import peo
from peo import _peo

STUB = pathlib.Path(peo.__file__).with_name("_peo.pyi")


def params(fn):
    sig = inspect.signature(fn)
    return [p for p in sig.parameters if p not in ("self", "cls", "py")]


def test_stubs_match_the_compiled_module():
    tree = ast.parse(STUB.read_text())
    declared = set()
    checked = 0
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            declared.add(node.name)
            cls = getattr(_peo, node.name)
            members = set()
            for item in node.body:
                if not isinstance(item, ast.FunctionDef):
                    continue
                members.add(item.name)
                native = inspect.getattr_static(cls, item.name)
                decorators = {d.id for d in item.decorator_list if isinstance(d, ast.Name)}
                if "property" in decorators:
                    assert inspect.isdatadescriptor(native), f"{node.name}.{item.name} is not a property"
                    continue
                stub_params = [a.arg for a in item.args.args + item.args.kwonlyargs if a.arg not in ("self", "cls")]
                target = cls if item.name == "__init__" else getattr(cls, item.name)
                assert params(target) == stub_params, f"{node.name}.{item.name}: {params(target)} != {stub_params}"
                checked += 1
            public = {n for n in vars(cls) if not n.startswith("_")}
            assert public <= members, f"{node.name} has undeclared members {public - members}"
        elif isinstance(node, ast.FunctionDef):
            declared.add(node.name)
            stub_params = [a.arg for a in node.args.args + node.args.kwonlyargs]
            assert params(getattr(_peo, node.name)) == stub_params, f"{node.name}: {stub_params}"
            checked += 1
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            declared.add(node.target.id)
            assert hasattr(_peo, node.target.id), node.target.id
        elif isinstance(node, ast.Assign):
            declared.update(t.id for t in node.targets if isinstance(t, ast.Name))
    module_public = {n for n in dir(_peo) if not n.startswith("_") or n == "__version__"}
    assert module_public <= declared, f"undeclared in _peo.pyi: {module_public - declared}"
    assert checked >= 20, checked


def test_the_package_is_typed():
    assert STUB.with_name("py.typed").exists()
