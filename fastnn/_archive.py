"""Reading model archives (.npz) without trusting them: nothing is inflated or allocated before
its size is checked against what the JSON header says it must be.

An archive holds `header.npy` (a JSON string) and array members. The members' names are
checked (each once), the header member's size is bounded, and then each array member's
declared size and its .npy header (dtype, shape, order) are compared with the shapes the
JSON header implies before its data is read; the zip reader never inflates past a member's
declared size, so a member that inflates to more is cut off and refused.
"""
import io
import json
import zipfile

import numpy as np

#: bytes a header member may hold (its JSON describes a network, not data)
HEADER_LIMIT = 1 << 20
#: bytes a .npy header may take before an array's data
NPY_HEADER_LIMIT = 1 << 16


class ArchiveError(ValueError):
    """The archive is not what it should be; the message says why (without the path)."""


def read(path, names, expected, optional=()):
    """(header dict, {name: array}) from the archive at `path`. expected(header) returns
    {name: (dtype, allowed shapes)} for the array members `names`, or raises ArchiveError;
    members named in `optional` may be absent (and are then absent from the result)."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        listed = [member.filename for member in members]
        if len(listed) != len(set(listed)):
            raise ArchiveError("the archive holds two members of the same name")
        wanted = {"header.npy", *(f"{name}.npy" for name in names)}
        missing_optional = {f"{name}.npy" for name in optional} - set(listed)
        if set(listed) != wanted - missing_optional:
            found = sorted(name[:-4] if name.endswith(".npy") else name for name in listed)
            raise ArchiveError(f"expected arrays {sorted(['header', *names])}, found {found}")
        by_name = {member.filename: member for member in members}
        header = _header(archive, by_name["header.npy"])
        shapes = expected(header)
        arrays = {name: _array(archive, by_name[f"{name}.npy"], name, *shapes[name])
                  for name in names if f"{name}.npy" in by_name}
    return header, arrays


def _header(archive, member):
    if member.file_size > HEADER_LIMIT:
        raise ArchiveError(f"the header member holds {member.file_size} bytes (at most "
                           f"{HEADER_LIMIT} expected)")
    text = np.load(io.BytesIO(archive.read(member)), allow_pickle=False)
    if text.dtype.kind != "U" or text.shape != ():
        raise ArchiveError(f"the header is a {text.dtype} array of shape {text.shape}, not a string")
    try:
        return json.loads(str(text[()]))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ArchiveError(f"the header is not JSON ({type(exc).__name__})") from None


def _array(archive, member, name, dtype, shapes):
    """The member's array, after checking its declared size and .npy header against `dtype`
    and one of `shapes`."""
    dtype = np.dtype(dtype)
    sizes = {int(np.prod(shape, dtype=object)) * dtype.itemsize: shape for shape in shapes}
    if not any(size <= member.file_size <= size + NPY_HEADER_LIMIT for size in sizes):
        raise ArchiveError(f"{name} holds {member.file_size} bytes; the header's network needs "
                           f"{' or '.join(str(size) for size in sizes)} (plus a .npy header)")
    with archive.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, stored = read_header(stream, max_header_size=NPY_HEADER_LIMIT)
        if stored != dtype or fortran or tuple(shape) not in [tuple(s) for s in shapes]:
            raise ArchiveError(f"{name} is a {stored} array of shape {tuple(shape)}"
                               f"{' (Fortran order)' if fortran else ''}; the header's network "
                               f"needs {dtype} of shape {' or '.join(str(tuple(s)) for s in shapes)}")
        size = int(np.prod(shape, dtype=object)) * dtype.itemsize
        data = stream.read(size)
    if len(data) != size:
        raise ArchiveError(f"{name} is cut short: {len(data)} of {size} bytes")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
