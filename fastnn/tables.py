"""Tables on disk for the command line: reading delimited text, Parquet and NumPy files into a
pandas DataFrame, and writing predictions in the format a file name asks for.

pandas does the parsing (its C reader: quoting, compression, BOM, missing values; about ten
times faster than a hand-written reader on a 200,000-row file). What it leaves to the caller
is decided here from the first lines of the file: the delimiter (sniffed among , ; tab |
unless given), whether the first row is a header, and whether a leading unnamed column is a
saved index.
"""
import bz2
import csv
import gzip
import io
import lzma
import os
import re
import warnings
import zipfile

import numpy as np

__all__ = ["TableError", "read_table", "write_table", "OUTPUT_FORMATS"]


def __dir__():  # tab completion shows the public names only
    return __all__


class TableError(ValueError):
    """A data file cannot be read or written as a table; the message says why."""


#: decompressors by suffix, for the sample the delimiter and header are decided from
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_COMPRESSIONS = {"": None, ".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
_DELIMITERS = ",;\t|"
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+([eE][+-]?\d+)?$")
#: bytes of (decompressed) text read to sniff the delimiter and the header
_SAMPLE_BYTES = 1 << 16
_SAMPLE_ROWS = 50
#: output suffix -> format (a .gz/.bz2/.xz/.zip after .csv or .tsv compresses it)
OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet",
                  ".npy": "npy", ".json": "json"}


def _suffixes(path):
    """(format suffix, compression suffix) of a file name: data.csv.gz -> (.csv, .gz)."""
    name = os.path.basename(os.fspath(path)).lower()
    stem, last = os.path.splitext(name)
    if last in (*_OPENERS, ".zip"):
        return os.path.splitext(stem)[1], last
    return last, ""


def _sample(path, compression):
    """The first lines of a (possibly compressed) text file, decoded, and its encoding."""
    if compression == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise TableError(f"{path}: a zip archive of data must hold one file; it holds "
                                 f"{len(names)}")
            with archive.open(names[0]) as handle:
                raw = handle.read(_SAMPLE_BYTES)
    else:
        with _OPENERS.get(compression, open)(path, "rb") as handle:
            raw = handle.read(_SAMPLE_BYTES)
    if len(raw) == _SAMPLE_BYTES:  # a whole number of lines
        raw = raw[:raw.rfind(b"\n") + 1] or raw
    for encoding in ("utf-8-sig", "latin-1"):  # latin-1 decodes any bytes
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _has_header(rows):
    """Whether the first of `rows` (lists of fields) names the columns: some field of it is
    text over a column of numbers, or, in a table of text, none of its fields recurs below."""
    first, rest = rows[0], rows[1:]
    if not rest:
        return True
    width = len(first)
    columns = [[row[j].strip() for row in rest if j < len(row) and row[j].strip()] for j in range(width)]
    numeric = [bool(column) and all(map(_is_number, column)) for column in columns]
    if any(numeric):
        return any(is_numbers and first[j].strip() and not _is_number(first[j])
                   for j, is_numbers in enumerate(numeric))
    return all(first[j].strip() and first[j].strip() not in columns[j] for j in range(width))


def _sniff(path, text, delimiter):
    """(delimiter, header, decimal mark) of delimited text from its first lines."""
    lines = text.splitlines()[:_SAMPLE_ROWS + 1]
    if not any(line.strip() for line in lines):
        raise TableError(f"{path}: the file is empty")
    if delimiter is None:
        suffix, _ = _suffixes(path)
        try:
            delimiter = csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
        except csv.Error:  # one column, or no consistent delimiter
            delimiter = "\t" if suffix in (".tsv", ".tab") else ","
    rows = [row for row in csv.reader(lines, delimiter=delimiter) if row]
    decimal = "."
    if delimiter != "," and any(map(_DECIMAL_COMMA.match, (f.strip() for r in rows[1:] for f in r))):
        decimal = ","  # 3,14 with another delimiter: a decimal comma (rows[0] may be names)
        rows = [[f.replace(",", ".") if _DECIMAL_COMMA.match(f.strip()) else f for f in r] for r in rows]
    return delimiter, _has_header(rows), decimal


def read_table(path, delimiter=None, header=None, notes=None):
    """A DataFrame of the table at `path`.

    Delimited text (.csv, .tsv, .txt or any other name; compressed as .gz, .bz2, .xz or
    .zip) is parsed by pandas with `delimiter` (sniffed when None; with a delimiter other
    than the comma, numbers such as 3,14 are read with a decimal comma) and `header` (True: the
    first row names the columns; False: it is data and the columns are column_1, column_2,
    ...; None: decided from the first rows). .parquet needs pyarrow. .npz takes arrays X and
    (if present) y, named x0, x1, ... and y; .npy one 2-D array. A leading column with no
    name whose values are distinct integers (a saved pandas index) is dropped, and a line
    saying so is appended to `notes`. Any fault raises TableError naming the file.
    """
    import pandas as pd

    path = os.fspath(path)
    if not os.path.exists(path):
        raise TableError(f"{path}: no such file")
    suffix, compression = _suffixes(path)
    try:
        if suffix in (".npz", ".npy") and not compression:
            frame = _read_numpy(path)
        elif suffix == ".parquet" and not compression:
            _need_pyarrow("reading Parquet")
            frame = pd.read_parquet(path)
        else:
            text, encoding = _sample(path, compression)
            delimiter, sniffed, decimal = _sniff(path, text, delimiter)
            header = sniffed if header is None else header
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", pd.errors.DtypeWarning)  # mixed types: text
                warnings.simplefilter("error", pd.errors.ParserWarning)  # rows longer than the header
                frame = pd.read_csv(path, sep=delimiter, header=0 if header else None,
                                    decimal=decimal, encoding=encoding, skipinitialspace=True,
                                    index_col=False, compression=_COMPRESSIONS[compression])
            if not header:
                frame.columns = [f"column_{j + 1}" for j in range(frame.shape[1])]
    except TableError:
        raise
    except pd.errors.ParserWarning:
        raise TableError(f"{path}: cannot parse it as a table (a row has more fields than the "
                         "header names)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError,
            OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TableError(f"{path}: cannot parse it as a table ({reason})") from None
    frame.columns = [str(name).strip() for name in frame.columns]
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise TableError(f"{path}: no data rows")
    return _without_saved_index(path, frame, notes)


def _read_numpy(path):
    import pandas as pd

    try:
        data = np.load(path, allow_pickle=False)
    except EOFError:
        raise TableError(f"{path}: the file is empty or cut short") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise TableError(f"{path}: cannot read it as NumPy data ({exc})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            if "X" not in data.files:
                raise TableError(f"{path}: an NPZ needs an array 'X' (and 'y' to train on); it "
                                 f"has {', '.join(map(repr, data.files)) or 'none'}")
            try:
                X, y = data["X"], data["y"] if "y" in data.files else None
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
                raise TableError(f"{path}: cannot read it as NumPy data ({exc})") from None
    else:
        X, y = data, None
    if X.ndim == 1:
        raise TableError(f"{path}: a 1-D array of {X.shape[0]} values; a table needs rows of "
                         f"features, shape (n_rows, n_features) (one row: (1, {X.shape[0]}))")
    if X.ndim != 2 or (y is not None and (y.ndim != 1 or len(y) != len(X))):
        raise TableError(f"{path}: X must be 2-D and y hold one value per row; got X of shape "
                         f"{X.shape}{'' if y is None else f' and y of shape {y.shape}'}")
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    if y is not None:
        frame["y"] = y
    return frame


def _without_saved_index(path, frame, notes):
    """Drop a leading unnamed column of distinct integers: pandas' to_csv writes its index
    so, and as a feature it would only number the rows."""
    import pandas as pd

    name = frame.columns[0]
    if frame.shape[1] < 2 or not (name == "" or name.startswith("Unnamed: 0")):
        return frame
    column = frame[name]
    if pd.api.types.is_integer_dtype(column) and column.is_unique:
        frame = frame.drop(columns=name)
        if notes is not None:
            notes.append(f"{path}: dropped the first column: it has no name and numbers the "
                         "rows (a saved index)")
    return frame


def _need_pyarrow(what):
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        raise TableError(f"{what} needs pyarrow: pip install pyarrow")


def output_format(path):
    """The format an output file name asks for, or TableError naming the ones there are."""
    suffix, compression = _suffixes(path)
    kind = OUTPUT_FORMATS.get(suffix)
    if kind is None or (compression and kind not in ("csv", "tsv")):
        raise TableError(f"{path}: unknown output format {suffix + compression or '(no suffix)'!r}; "
                         f"name the file .csv, .tsv, .parquet, .npy or .json (.csv.gz and the "
                         "like compress)")
    if kind == "parquet":
        _need_pyarrow("writing Parquet")
    return kind


def write_table(frame, path, array=None):
    """Write `frame` to `path` in the format its name asks for (output_format), atomically;
    '-' writes CSV to standard output. A .npy file holds `array` (default: the frame's
    values), as NumPy reads it without pickle."""
    import sys

    from ._files import write_atomically

    if path == "-":
        frame.to_csv(sys.stdout, index=False)
        return
    kind = output_format(path)
    _, compression = _suffixes(path)
    if kind in ("csv", "tsv"):
        buffer = io.BytesIO()
        frame.to_csv(buffer, index=False, sep="\t" if kind == "tsv" else ",",
                     compression=_COMPRESSIONS[compression])
        write_atomically(path, lambda handle: handle.write(buffer.getvalue()))
    elif kind == "json":
        write_atomically(path, lambda handle: handle.write(frame.to_json(orient="records", double_precision=15)),
                         binary=False)
    elif kind == "parquet":
        write_atomically(path, lambda handle: frame.to_parquet(handle, index=False))
    else:
        values = frame.to_numpy() if array is None else np.asarray(array)
        if values.dtype == object:  # strings: a fixed-width unicode array, readable without pickle
            values = values.astype(str)
        write_atomically(path, lambda handle: np.save(handle, values, allow_pickle=False))
