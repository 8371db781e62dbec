"""Read FLAME model files without running any code stored in them.

A pickle is a small program: its GLOBAL opcodes import any name and REDUCE calls it, so
``pickle.load`` on a downloaded file can run ``os.system`` or anything else. FLAME ships as
a pickle (FLAME 2020 ``generic_model.pkl`` is a Python 2 pickle that also holds chumpy
arrays), so we unpickle with an allow-list instead:

* numpy array / dtype / scalar reconstruction;
* scipy CSC/CSR sparse matrices (``J_regressor``), which are rebuilt from their state by us,
  never by scipy's own class, and then format-checked;
* ``chumpy.*`` objects, replaced by a stand-in that keeps only the stored value ``x``, so
  neither chumpy nor its import-time code is needed;
* the few builtins those pickles use (``set``, ``copy_reg._reconstructor`` for stand-ins only,
  ``_codecs.encode`` for Python 3 bytes written with protocol < 3).

Any other global stops loading with an ``EmoAnimError`` naming it, before it is called.
``.npz`` files are read with ``np.load(allow_pickle=False)``.

Public: ``load_model_file(path) -> dict``, ``restricted_loads(data, source) -> object``, and
``ChumpyObject``, what a chumpy expression without a stored value is left as.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from emoanim.errors import EmoAnimError

try:  # numpy >= 2 keeps the array internals in numpy._core; older numpy in numpy.core.
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric


# ---------------------------------------------------------------------------------------
# Stand-ins: inert classes the unpickler hands out instead of foreign classes.


class ChumpyObject:
    """Takes the place of a chumpy class; keeps only the array a plain ``Ch`` stores in x.

    chumpy pickles ``Ch`` objects as (class, state dict) with the value in ``state['x']``
    (its other state: dirty-variable sets and caches, is irrelevant once loaded). Derived
    chumpy expressions (sums, slices, ...) have no ``x``; they stay as this inert object.
    """

    chumpy_name = "chumpy.ch.Ch"

    def __new__(cls, *args: Any, **kwargs: Any) -> ChumpyObject:
        return object.__new__(cls)

    def __setstate__(self, state: Any) -> None:
        self.x = state.get("x") if isinstance(state, dict) else None


class _SparseStandIn:
    """Takes the place of a scipy CSC/CSR matrix; keeps the state dict for ``_resolve``."""

    sparse_format = "csc"

    def __new__(cls, *args: Any, **kwargs: Any) -> _SparseStandIn:
        return object.__new__(cls)

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {}


class _ObjectBase:
    """What ``__builtin__.object`` resolves to: only usable as ``_reconstructor``'s base.

    An instance without ``__dict__`` or slots, so a BUILD opcode cannot set attributes on it.
    """

    __slots__ = ()


_OBJECT_BASE = _ObjectBase()


_chumpy_classes: dict[str, type] = {}


def _chumpy_class(qualified_name: str) -> type:
    # One stand-in subclass per chumpy name, so an error can say which class it was.
    if qualified_name not in _chumpy_classes:
        _chumpy_classes[qualified_name] = type(
            "ChumpyStandIn", (ChumpyObject,), {"chumpy_name": qualified_name}
        )
    return _chumpy_classes[qualified_name]


_CSC = type("CscStandIn", (_SparseStandIn,), {"sparse_format": "csc"})
_CSR = type("CsrStandIn", (_SparseStandIn,), {"sparse_format": "csr"})


def _reconstructor(cls: Any, base: Any, state: Any) -> object:
    """``copy_reg._reconstructor`` (protocol 0/1 pickles of plain classes), stand-ins only."""
    if not (isinstance(cls, type) and issubclass(cls, (ChumpyObject, _SparseStandIn))):
        raise pickle.UnpicklingError("copy_reg._reconstructor used on a class that is not allowed")
    if base is not _OBJECT_BASE or state is not None:
        raise pickle.UnpicklingError("copy_reg._reconstructor used with an unexpected base class")
    return cls.__new__(cls)


def _latin1_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode``: Python 3 writes bytes this way in protocol 0-2 pickles."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError("_codecs.encode used for something other than bytes")
    return text.encode("latin1")


# (module, name) -> the object the unpickler may use for it. Both the Python 2 spellings
# (numpy.core, copy_reg, __builtin__) and the Python 3 ones are listed: our find_class sees
# the names exactly as stored, before pickle's own Python 2 -> 3 renaming.
_ALLOWED: dict[tuple[str, str], Any] = {}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_module, "_reconstruct")] = _multiarray._reconstruct
    _ALLOWED[(_module, "scalar")] = _multiarray.scalar
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_module, "_frombuffer")] = _numeric._frombuffer  # protocol 5 array data
_ALLOWED[("numpy", "ndarray")] = np.ndarray
_ALLOWED[("numpy", "dtype")] = np.dtype
for _module in ("scipy.sparse.csc", "scipy.sparse._csc"):
    _ALLOWED[(_module, "csc_matrix")] = _CSC
    _ALLOWED[(_module, "csc_array")] = _CSC
for _module in ("scipy.sparse.csr", "scipy.sparse._csr"):
    _ALLOWED[(_module, "csr_matrix")] = _CSR
    _ALLOWED[(_module, "csr_array")] = _CSR
for _module in ("__builtin__", "builtins"):
    _ALLOWED[(_module, "set")] = set  # chumpy keeps a set of dirty variables in its state
    _ALLOWED[(_module, "frozenset")] = frozenset
    _ALLOWED[(_module, "object")] = _OBJECT_BASE
for _module in ("copy_reg", "copyreg"):
    _ALLOWED[(_module, "_reconstructor")] = _reconstructor
_ALLOWED[("_codecs", "encode")] = _latin1_encode


class _RestrictedUnpickler(pickle.Unpickler):
    source = "the file"  # for messages; set per load

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "chumpy" or module.startswith("chumpy."):
            return _chumpy_class(f"{module}.{name}")
        raise EmoAnimError(
            f"refusing to load {self.source}: it references '{module}.{name}', which a FLAME "
            "model file never needs (only numpy arrays, scipy sparse matrices and chumpy "
            "arrays are allowed); the file may be malicious or is not a FLAME model"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed")


# ---------------------------------------------------------------------------------------
# Turning stand-ins into plain numpy / scipy objects.


def _resolve(obj: Any, where: str) -> Any:
    """Replace stand-ins (recursively through dicts, lists and tuples) by real values.

    A chumpy object becomes its ``x`` array; a sparse stand-in a checked scipy matrix.
    """
    if isinstance(obj, ChumpyObject):
        value = getattr(obj, "x", None)
        if isinstance(value, (ChumpyObject, np.ndarray)):
            return _resolve(value, where)
        # A derived chumpy expression has no stored array. It stays an inert ChumpyObject:
        # harmless if the caller never needs that entry, reported by the caller if it does.
        return obj
    if isinstance(obj, _SparseStandIn):
        return _sparse_from_state(obj, where)
    if isinstance(obj, dict):
        return {key: _resolve(value, f"'{key}'") for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(value, where) for value in obj)
    return obj


def _sparse_from_state(obj: _SparseStandIn, where: str) -> scipy.sparse.spmatrix:
    # scipy has stored the shape as 'shape' (old) and '_shape' (since ~0.14).
    state = obj.state
    shape = state.get("_shape", state.get("shape"))
    parts = [state.get(key) for key in ("data", "indices", "indptr")]
    if shape is None or not all(isinstance(part, np.ndarray) for part in parts):
        raise EmoAnimError(f"{where} is a sparse matrix with missing data")
    cls = scipy.sparse.csc_matrix if obj.sparse_format == "csc" else scipy.sparse.csr_matrix
    try:
        shape = tuple(int(n) for n in shape)
        matrix = cls(tuple(parts), shape=shape)
        matrix.check_format(full_check=True)  # index bounds, so later products cannot misread
    except (TypeError, ValueError) as exc:
        raise EmoAnimError(f"{where} is a malformed sparse matrix: {_one_line(exc)}") from None
    return matrix


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


# ---------------------------------------------------------------------------------------
# Entry points.


def restricted_loads(data: bytes, source: str = "the file") -> Any:
    """Unpickle ``data`` with the allow-list; stand-ins are resolved to numpy / scipy.

    ``latin1`` decodes Python 2 ``str`` objects (array bytes among them) losslessly; numpy
    turns such strings back into bytes when it rebuilds an array.
    """
    unpickler = _RestrictedUnpickler(io.BytesIO(data), encoding="latin1")
    unpickler.source = source
    try:
        obj = unpickler.load()
        return _resolve(obj, source)
    except EmoAnimError:
        raise
    except RecursionError:
        raise EmoAnimError(f"cannot read {source}: it is nested too deeply to be a FLAME model") from None
    except Exception as exc:  # anything the pickle machine raises means a broken file
        raise EmoAnimError(
            f"cannot read {source}: the file is truncated or corrupt, or not a FLAME model "
            f"({_one_line(exc)})"
        ) from None


def load_model_file(path: str | Path) -> dict[str, Any]:
    """Read a FLAME model (``.pkl`` pickle or ``.npz``) into a dict of numpy / scipy values."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise EmoAnimError(f"FLAME model file not found: {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EmoAnimError(f"cannot read FLAME model file {path}: {exc.strerror}") from None
    if data.startswith(b"PK"):  # a zip archive, i.e. numpy's .npz
        model = _load_npz(data, path)
    else:
        model = restricted_loads(data, source=str(path))
    if not isinstance(model, dict):
        raise EmoAnimError(
            f"{path} is not a FLAME model file: it holds a {type(model).__name__}, not a dict of arrays"
        )
    return model


def _load_npz(data: bytes, path: Path) -> dict[str, Any]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise EmoAnimError(
                f"refusing to load {path}: the .npz holds pickled Python objects; "
                "a FLAME .npz must contain plain numeric arrays"
            ) from None
        raise EmoAnimError(f"cannot read {path}: the .npz is corrupt ({_one_line(exc)})") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise EmoAnimError(f"cannot read {path}: the .npz is truncated or corrupt ({_one_line(exc)})") from None


__all__ = ["ChumpyObject", "load_model_file", "restricted_loads"]
