"""The model `fastnn train` builds from a table, and its pickle-free file.

A scikit-learn Pipeline around a drop-in estimator:

    numeric columns      -> [SimpleImputer(mean|median|most_frequent)] -> StandardScaler
    categorical columns  -> text -> [SimpleImputer(most_frequent)] -> OneHotEncoder(ignore unknown)
    -> [cast to float32] -> MLPClassifier or MLPRegressor

and for regression a TransformedTargetRegressor around it that standardizes the target
(z = (y - mean) / scale) and maps predictions back. Class labels (strings, booleans, integers)
are the classifier's own classes_.

The file is a drop-in estimator's file (fastnn/_estimator_files.py) whose header also holds
a "table" part: the input columns in order, each part's columns and fitted numbers (imputed
values, means and scales, categories), the dtype and the target's name and scaling. Loading
rebuilds the same scikit-learn objects: each transformer is fitted on a small table made of
its saved values (so that scikit-learn sets its own internal state), and the saved numbers
are then put in place of the fitted ones.
"""
import numbers

import numpy as np

__all__ = ["IMPUTE", "holds_numbers", "column_kinds", "decide_task", "make_columns", "preprocessor", "assemble", "parts",
           "feature_names", "save_table_model", "model_from"]


def __dir__():  # tab completion shows the public names only
    return __all__


#: --impute strategies for numeric columns (categorical columns take the most frequent)
IMPUTE = ("mean", "median", "most_frequent")
#: a numeric target with more distinct values than this, each on fewer than _ROWS_PER_CLASS
#: rows on average, is a quantity (regression) although its values are whole numbers
_MANY_VALUES, _ROWS_PER_CLASS = 20, 5


def holds_numbers(column):
    """Whether a column holds numbers (booleans count as categories, not numbers)."""
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def column_kinds(frame):
    """(numeric, categorical) column names: numbers are numeric; text, booleans and
    categories are categorical."""
    numeric = [name for name in frame.columns if holds_numbers(frame[name])]
    return numeric, [name for name in frame.columns if name not in numeric]


def decide_task(y):
    """("classification" or "regression", why) for a target column, as scikit-learn's
    type_of_target decides, except that whole numbers with many distinct values each on a
    few rows (a count such as a disease score) are a quantity."""
    from sklearn.utils.multiclass import type_of_target

    values = y.to_numpy()
    kind = type_of_target(values.astype(object) if values.dtype.kind in "OUST" else values)
    distinct = y.nunique()
    numeric = holds_numbers(y)
    if kind == "continuous":
        return "regression", "the target holds fractional numbers"
    if kind in ("binary", "multiclass"):
        if numeric and distinct > _MANY_VALUES and len(y) < _ROWS_PER_CLASS * distinct:
            return "regression", (f"the target holds {distinct} distinct whole numbers, "
                                  f"{len(y) / distinct:.1f} rows each on average")
        return "classification", f"the target holds {distinct} classes"
    raise ValueError(f"target {y.name!r}: a {kind} target cannot be learned here")


def _as_text(X):
    """Categorical values as strings (missing values stay missing): booleans, numbers and
    text in one column then encode alike, in training and in prediction."""
    import pandas as pd

    return X.astype(object).map(lambda v: np.nan if pd.isna(v) else str(v))


def _as_float32(X):
    return X.astype(np.float32)


def make_columns(numeric, categorical, impute=None):
    """The ColumnTransformer for these columns (unfitted)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    parts = []
    if numeric:
        steps = [("scale", StandardScaler())]
        if impute:
            steps.insert(0, ("impute", SimpleImputer(strategy=impute)))
        parts.append(("numeric", Pipeline(steps), list(numeric)))
    if categorical:
        steps = [("text", FunctionTransformer(_as_text, feature_names_out="one-to-one")),
                 ("encode", OneHotEncoder(handle_unknown="ignore"))]
        if impute:
            steps.insert(1, ("impute", SimpleImputer(strategy="most_frequent")))
        parts.append(("categorical", Pipeline(steps), list(categorical)))
    return ColumnTransformer(parts)


def preprocessor(columns, dtype="float64"):
    """The steps before the estimator: the (fitted) ColumnTransformer, then a cast to float32
    when the network runs in float32. As a Pipeline, its transform gives the network's input."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    steps = [("columns", columns)]
    if np.dtype(dtype) == np.float32:
        steps.append(("float32", FunctionTransformer(_as_float32)))
    return Pipeline(steps)


def assemble(columns, estimator, target_scaler=None, dtype="float64"):
    """The model of fitted parts: Pipeline(columns, [float32 cast], estimator), inside a
    TransformedTargetRegressor when the target was standardized by `target_scaler`."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = Pipeline(preprocessor(columns, dtype).steps + [("mlp", estimator)])
    if target_scaler is None:
        return pipeline
    model = TransformedTargetRegressor(regressor=pipeline, transformer=StandardScaler())
    # the fitted state TransformedTargetRegressor.fit would leave, from the fitted parts
    model.regressor_, model.transformer_, model._training_dim = pipeline, target_scaler, 1
    return model


def parts(model):
    """(columns, estimator, target_scaler or None, dtype name) of a model made by assemble;
    TypeError for anything else."""
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from .sklearn import _BaseMLP

    target_scaler = None
    if isinstance(model, TransformedTargetRegressor):
        target_scaler = getattr(model, "transformer_", None)
        model = getattr(model, "regressor_", None)
        if not isinstance(target_scaler, StandardScaler):
            model = None
    names = [name for name, _ in model.steps] if isinstance(model, Pipeline) else None
    if names not in (["columns", "mlp"], ["columns", "float32", "mlp"]) \
            or not isinstance(model.named_steps["columns"], ColumnTransformer) \
            or not isinstance(model.named_steps["mlp"], _BaseMLP):
        raise TypeError("fastnn.save takes a Network, a fastnn drop-in estimator or a model "
                        f"made by `fastnn train`; got {type(model).__name__}")
    return (model.named_steps["columns"], model.named_steps["mlp"], target_scaler,
            "float32" if "float32" in names else "float64")


def feature_names(model):
    """The input columns a table model reads, in order."""
    return [str(name) for name in parts(model)[0].feature_names_in_]


def _floats(values):
    return [float(v) for v in np.ravel(values)]


def _spec(model, target_name):
    """The JSON "table" part of a fitted model's file."""
    columns, estimator, target_scaler, dtype = parts(model)
    spec = {"columns": feature_names(model), "dtype": dtype, "numeric": None,
            "categorical": None, "target": {"name": str(target_name)}}
    for name, part, names in columns.transformers_:
        if name not in ("numeric", "categorical"):
            continue
        steps = part.named_steps
        impute = steps.get("impute")
        saved = {"names": list(names), "impute": None if impute is None else impute.strategy,
                 "fill": None if impute is None else impute.statistics_.tolist()}
        if name == "numeric":
            scale = steps["scale"]
            saved.update(mean=_floats(scale.mean_), var=_floats(scale.var_),
                         scale=_floats(scale.scale_), n_samples_seen=int(np.max(scale.n_samples_seen_)))
        else:
            saved["categories"] = [list(map(str, c)) for c in steps["encode"].categories_]
        spec[name] = saved
    if target_scaler is not None:
        spec["target"].update(mean=float(target_scaler.mean_[0]), var=float(target_scaler.var_[0]),
                              scale=float(target_scaler.scale_[0]),
                              n_samples_seen=int(np.max(target_scaler.n_samples_seen_)))
    return spec


def save_table_model(model, path, target_name="y"):
    """Write a model made by `fastnn train` (or by assemble) to `path` (.npz), atomically."""
    from sklearn.utils.validation import check_is_fitted

    from ._estimator_files import save_estimator

    estimator = parts(model)[1]
    check_is_fitted(estimator)  # before the spec reads fitted attributes
    save_estimator(estimator, path, {"table": _spec(model, target_name)})


# -- loading --------------------------------------------------------------------------------

def _fail(path, what):
    from .io import ModelFileError

    raise ModelFileError(f"{path}: not a sound fastnn table model ({what})")


def _strings(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _reals(value, n):
    return (isinstance(value, list) and len(value) == n
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value))


def _check(path, spec, estimator):
    """Every field of a "table" part, against itself and the estimator's inputs."""
    if not isinstance(spec, dict) or not _strings(spec.get("columns")) \
            or spec.get("dtype") not in ("float32", "float64"):
        _fail(path, "columns or dtype")
    widths = 0
    for name in ("numeric", "categorical"):
        part = spec.get(name)
        if part is None:
            continue
        names = part.get("names") if isinstance(part, dict) else None
        if not _strings(names) or not names or part.get("impute") not in (None, *IMPUTE):
            _fail(path, f"the {name} part")
        n = len(names)
        fill = part.get("fill")
        if (part["impute"] is None) != (fill is None) or (fill is not None and (
                not isinstance(fill, list) or len(fill) != n
                or (name == "numeric" and not _reals(fill, n))
                or (name == "categorical" and not _strings(fill)))):
            _fail(path, f"the {name} part's imputed values")
        if name == "numeric":
            if not all(_reals(part.get(k), n) for k in ("mean", "var", "scale")) \
                    or not isinstance(part.get("n_samples_seen"), int):
                _fail(path, "the numeric part's means and scales")
            widths += n
        else:
            categories = part.get("categories")
            if not isinstance(categories, list) or len(categories) != n \
                    or not all(_strings(c) and c for c in categories):
                _fail(path, "the categorical part's categories")
            widths += sum(map(len, categories))
    used = [n for k in ("numeric", "categorical") if spec.get(k) for n in spec[k]["names"]]
    if sorted(used) != sorted(spec["columns"]) or len(set(used)) != len(used):
        _fail(path, "the parts' columns are not the input columns")
    if widths != estimator.n_features_in_:
        _fail(path, f"the parts make {widths} features, the estimator reads {estimator.n_features_in_}")
    target = spec.get("target")
    if not isinstance(target, dict) or not isinstance(target.get("name"), str):
        _fail(path, "the target")
    if "mean" in target and not (_reals([target.get(k) for k in ("mean", "var", "scale")], 3)
                                 and isinstance(target.get("n_samples_seen"), int)):
        _fail(path, "the target's scaling")


def _set_scaler(scaler, saved):
    """Put saved means and scales in a fitted StandardScaler's place."""
    scaler.mean_ = np.array(saved["mean"], dtype=np.float64)
    scaler.var_ = np.array(saved["var"], dtype=np.float64)
    scaler.scale_ = np.array(saved["scale"], dtype=np.float64)
    scaler.n_samples_seen_ = saved["n_samples_seen"]


def _rebuilt_columns(spec):
    """The ColumnTransformer a checked spec describes, fitted to its saved numbers."""
    import pandas as pd

    numeric, categorical = spec["numeric"], spec["categorical"]
    impute = (numeric or categorical)["impute"]
    columns = make_columns(numeric and numeric["names"], categorical and categorical["names"], impute)
    # a table whose fit gives every category (in order) and every column its dtype
    rows = max([1] + [len(c) for c in (categorical or {}).get("categories", [])])
    table = {}
    for j, name in enumerate((numeric or {}).get("names", [])):
        table[name] = np.full(rows, numeric["mean"][j], dtype=np.float64)
    for j, name in enumerate((categorical or {}).get("names", [])):
        table[name] = np.resize(np.array(categorical["categories"][j], dtype=object), rows)
    columns.fit(pd.DataFrame(table)[spec["columns"]])
    for name, part, _ in columns.transformers_:
        if name not in ("numeric", "categorical"):
            continue
        saved, steps = spec[name], part.named_steps
        if "impute" in steps:
            steps["impute"].statistics_ = np.array(
                saved["fill"], dtype=np.float64 if name == "numeric" else object)
        if name == "numeric":
            _set_scaler(steps["scale"], saved)
    return columns


def model_from(path, spec, estimator):
    """The table model a file's checked "table" part describes, around its estimator."""
    from sklearn.preprocessing import StandardScaler

    _check(path, spec, estimator)
    target_scaler = None
    if "mean" in spec["target"]:
        target_scaler = StandardScaler().fit(np.zeros((2, 1)))
        _set_scaler(target_scaler, {k: [spec["target"][k]] if k != "n_samples_seen"
                                    else spec["target"][k] for k in spec["target"] if k != "name"})
    return assemble(_rebuilt_columns(spec), estimator, target_scaler, spec["dtype"])
