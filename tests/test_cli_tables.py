"""`fastnn train` and `fastnn predict` on tables written here: every reader option against
pandas told the answer, scores against scikit-learn's own MLP on the same split, predictions
by column name, every output format, and one-line errors that name the problem."""
import gzip
import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine

import fastnn as fnn
from fastnn.cli import main
from fastnn.tables import TableError, read_table


def run(capsys, *args):
    """(exit status, stdout, stderr) of the command line run in this process."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(capsys, args, message):
    status, out, err = run(capsys, *args)
    lines = [line for line in err.strip().splitlines() if not line.startswith("note:")]
    assert status == 2, (out, err)
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in err, err
    return lines[0]


def number_after(text, label):
    return float(re.search(rf"^{re.escape(label)}: (-?[\d.e+-]+)", text, re.M).group(1))


def iris_frame():
    iris = load_iris(as_frame=True)
    frame = iris.frame.drop(columns="target")
    frame["species"] = iris.target_names[iris.target]
    return frame


# -- reading: each option against pandas given the right parameters ---------------------------

def write_variants(tmp_path, frame):
    """name -> (path written, the pandas read that is known to be right)."""
    csv_text = frame.to_csv(index=False)
    variants = {}

    def add(name, writer, oracle):
        path = tmp_path / name
        writer(path)
        variants[name] = (path, oracle)

    add("plain.csv", lambda p: p.write_text(csv_text), lambda p: pd.read_csv(p))
    add("tabs.tsv", lambda p: frame.to_csv(p, sep="\t", index=False), lambda p: pd.read_csv(p, sep="\t"))
    add("pipes.txt", lambda p: frame.to_csv(p, sep="|", index=False), lambda p: pd.read_csv(p, sep="|"))
    add("european.csv", lambda p: frame.to_csv(p, sep=";", decimal=",", index=False),
        lambda p: pd.read_csv(p, sep=";", decimal=","))
    add("zipped.csv.gz", lambda p: p.write_bytes(gzip.compress(csv_text.encode())),
        lambda p: pd.read_csv(p))
    add("zipped.csv.bz2", lambda p: frame.to_csv(p, index=False), lambda p: pd.read_csv(p))
    add("zipped.csv.xz", lambda p: frame.to_csv(p, index=False), lambda p: pd.read_csv(p))
    add("zipped.csv.zip", lambda p: frame.to_csv(p, index=False), lambda p: pd.read_csv(p))
    add("bom.csv", lambda p: p.write_bytes(b"\xef\xbb\xbf" + csv_text.encode()),
        lambda p: pd.read_csv(p, encoding="utf-8-sig"))
    add("indexed.csv", lambda p: frame.to_csv(p), lambda p: pd.read_csv(p, index_col=0))
    add("headerless.csv", lambda p: frame.to_csv(p, index=False, header=False),
        lambda p: pd.read_csv(p, header=None).set_axis(
            [f"column_{j + 1}" for j in range(frame.shape[1])], axis=1))
    return variants


def test_every_text_variant_reads_as_pandas_reads_it_when_told(tmp_path):
    frame = iris_frame()
    frame.insert(2, "city", np.resize(["New York, NY", 'say "hi"', "Zürich"], len(frame)))  # quoting
    notes = []
    for name, (path, oracle) in write_variants(tmp_path, frame).items():
        got = read_table(path, notes=notes)
        pd.testing.assert_frame_equal(got, oracle(path), check_dtype=False, obj=name)
        assert got.shape == frame.shape, name
    assert notes == [f"{tmp_path / 'indexed.csv'}: dropped the first column: it has no name and "
                     "numbers the rows (a saved index)"]


def test_header_options_override_the_detection(tmp_path):
    path = tmp_path / "years.csv"
    path.write_text("1990,1991,1992\n1,2,3\n4,5,6\n")
    assert list(read_table(path).columns) == ["column_1", "column_2", "column_3"]
    assert list(read_table(path, header=True).columns) == ["1990", "1991", "1992"]
    labelled = tmp_path / "labels.csv"
    labelled.write_text("a,b,label\n1,2,x\n3,4,y\n")
    assert read_table(labelled, header=False).shape == (3, 3)
    semicolons = tmp_path / "semi.txt"
    semicolons.write_text("a;b\n1;2\n3;4\n")
    assert read_table(semicolons, delimiter=";").shape == (2, 2)


def test_parquet_and_npz(tmp_path):
    frame = iris_frame()
    pytest.importorskip("pyarrow")
    frame.to_parquet(tmp_path / "iris.parquet")
    pd.testing.assert_frame_equal(read_table(tmp_path / "iris.parquet"), frame)
    X = frame.iloc[:, :4].to_numpy()
    np.savez(tmp_path / "iris.npz", X=X, y=np.arange(len(X)) % 3)
    got = read_table(tmp_path / "iris.npz")
    assert list(got.columns) == ["x0", "x1", "x2", "x3", "y"]
    np.testing.assert_array_equal(got.iloc[:, :4].to_numpy(), X)


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"a,b\n1,2,3,4\n5,6\n", "cannot parse it as a table"),
    (b"a,b,c\n", "no data rows"),
])
def test_unreadable_tables_say_why(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(TableError, match=message):
        read_table(path)


# -- training: scores against scikit-learn's own default MLP on the same split ---------------

def sklearn_default_score(frame, target, classification, seed=0):
    """scikit-learn's MLP with its defaults, behind the standardization a data scientist
    would add, on the split `fastnn train` makes."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = frame.drop(columns=target), frame[target]
    parts = train_test_split(X, y, test_size=0.25, random_state=seed,
                             stratify=y if classification else None)
    model = make_pipeline(StandardScaler(), (MLPClassifier if classification else MLPRegressor)(random_state=seed))
    if not classification:
        model = TransformedTargetRegressor(model, transformer=StandardScaler())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(parts[0], parts[2]).score(parts[1], parts[3])


@pytest.mark.parametrize("loader, floor", [
    (load_digits, 0.95), (load_iris, 0.90), (load_wine, 0.90), (load_breast_cancer, 0.90),
    (load_diabetes, None)])
def test_defaults_reach_scikit_learns_score_on_raw_csv(tmp_path, capsys, loader, floor):
    frame = loader(as_frame=True).frame
    if loader is load_digits:
        frame = frame.astype({"target": int})
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    status, out, err = run(capsys, "train", "--data", path, "--no-progress")
    assert status == 0, err
    classification = floor is not None
    score = number_after(out, "test accuracy" if classification else "test R^2")
    score = score / 100 if classification else score
    oracle = sklearn_default_score(frame, "target", classification)
    assert score >= oracle - 5e-5, (score, oracle)  # printed to 4 digits
    if classification:
        assert score >= floor
    else:
        assert "regression of 'target'" in out and score > 0.2  # a quantity, not 214 classes


def test_string_labels_categorical_columns_and_imputation(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"size": rng.normal(10, 3, n), "colour": rng.choice(["red", "green", "blue"], n),
                          "member": rng.choice([True, False], n)})
    frame["verdict"] = np.where((frame["colour"] == "red") | (frame["size"] > 12), "keep", "drop")
    frame.loc[[3, 50], "size"] = np.nan
    frame.loc[7, "colour"] = None
    frame.to_csv(tmp_path / "data.csv", index=False)
    line = one_line_error(capsys, ["train", "--data", tmp_path / "data.csv", "--no-progress"],
                          "3 missing values in 2 column(s) ('size', 'colour'); fill them with --impute")
    assert "mean|median|most_frequent" in line
    model_path = tmp_path / "model.npz"
    status, out, err = run(capsys, "train", "--data", tmp_path / "data.csv", "--impute", "mean",
                           "--save", model_path, "--no-progress", "--epochs", "300")
    assert status == 0, err
    assert "1 numeric columns (standardized), 2 categorical (5 one-hot features)" in out
    assert number_after(out, "test accuracy") >= 90
    model = fnn.load(model_path)
    assert list(model.classes_) == ["drop", "keep"]
    imputer = model.named_steps["columns"].named_transformers_["numeric"].named_steps["impute"]
    from sklearn.model_selection import train_test_split
    train = train_test_split(frame, test_size=0.25, random_state=0, stratify=frame["verdict"])[0]
    assert imputer.statistics_[0] == pytest.approx(train["size"].mean(), rel=1e-12)
    # predict: reordered columns, the target present, unseen category, string labels out
    new = frame.iloc[:20][["verdict", "member", "colour", "size"]].fillna({"size": 10.0, "colour": "red"})
    new.loc[0, "colour"] = "purple"
    new.to_csv(tmp_path / "new.csv", index=False)
    status, out, err = run(capsys, "predict", model_path, tmp_path / "new.csv", "--proba")
    assert status == 0, err
    written = pd.read_csv(__import__("io").StringIO(out))
    assert list(written.columns) == ["verdict", "drop", "keep"]
    expected = model.predict(new.drop(columns="verdict"))
    assert list(written["verdict"]) == list(expected)
    np.testing.assert_allclose(written[["drop", "keep"]].sum(axis=1), 1.0, rtol=1e-9)


def test_task_decision_and_override(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 900
    X = rng.standard_normal((n, 4))
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["grade"] = np.argsort(np.argsort(X[:, 0])) * 30 // n  # 30 integer classes
    frame.to_csv(tmp_path / "grades.csv", index=False)
    status, out, err = run(capsys, "train", "--data", tmp_path / "grades.csv", "--epochs", "2",
                           "--no-progress")
    assert status == 0 and "classification of 'grade' (the target holds 30 classes)" in out, err
    status, out, err = run(capsys, "train", "--data", tmp_path / "grades.csv", "--epochs", "2",
                           "--task", "regression", "--no-progress")
    assert status == 0 and "regression of 'grade' (--task)" in out, err
    frame["grade"] = np.resize(["x", "y"], n)
    frame.to_csv(tmp_path / "text.csv", index=False)
    one_line_error(capsys, ["train", "--data", tmp_path / "text.csv", "--task", "regression"],
                   "regression needs numbers")


def test_validation_progress_summary_and_curves(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    frame = load_wine(as_frame=True).frame
    frame.to_csv(tmp_path / "wine.csv", index=False)
    status, out, err = run(capsys, "train", "--data", tmp_path / "wine.csv", "--validation-fraction",
                           "0.2", "--epochs", "40", "--plot", tmp_path / "curves.svg",
                           "--save", tmp_path / "wine.npz")
    assert status == 0, err
    assert "val_loss=" in err and "val_acc=" in err and "40/40" in err  # the progress bar
    found = re.search(r"^validation loss: ([\d.]+(e-?\d+)?), validation accuracy: ([\d.]+)% \(best "
                      r"[\d.]+% at epoch \d+\)$", out, re.M)
    assert found, out
    # the last epoch's figures against scikit-learn's metrics of the saved model on the same rows
    from sklearn.metrics import accuracy_score, log_loss
    from sklearn.model_selection import train_test_split
    X, y = frame.drop(columns="target"), frame["target"]
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    _, X_val, _, y_val = train_test_split(X_train, y_train, test_size=0.2, random_state=0,
                                          stratify=y_train)
    model = fnn.load(tmp_path / "wine.npz")
    assert float(found.group(3)) == pytest.approx(100 * accuracy_score(y_val, model.predict(X_val)), abs=0.006)
    assert float(found.group(1)) == pytest.approx(log_loss(y_val, model.predict_proba(X_val)), rel=1e-3)
    loss = out.split("training loss: ")[1].split()[0]
    assert float(loss) > 0 and loss != "0.0000" and len(loss.replace(".", "").lstrip("0")) >= 3
    svg = (tmp_path / "curves.svg").read_text()
    for text in ("training loss", "validation loss", "validation accuracy", "epoch", "fastnn train"):
        assert text in svg, text
    assert ">J<" not in svg


def test_a_run_that_blows_up_says_so(tmp_path, capsys):
    load_diabetes(as_frame=True).frame.to_csv(tmp_path / "diabetes.csv", index=False)
    status, out, err = run(capsys, "train", "--data", tmp_path / "diabetes.csv", "--optimizer",
                           "sgd", "--lr", "0.5", "--no-progress", "--save", tmp_path / "m.npz")
    assert status == 2
    assert "warning: the training loss grew from" in err and "training is diverging" in err
    assert "training diverged" in err and not (tmp_path / "m.npz").exists()
    assert not re.search(r"e\+\d{3}", out)


# -- predicting: by column name, every output format ----------------------------------------

@pytest.fixture(scope="module")
def iris_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iris")
    frame = iris_frame()
    frame.to_csv(folder / "iris.csv", index=False)
    assert main(["train", "--data", str(folder / "iris.csv"), "--save", str(folder / "model.npz"),
                 "--no-progress"]) == 0
    return folder, frame, fnn.load(folder / "model.npz")


def test_columns_are_matched_by_name(iris_model, tmp_path, capsys):
    folder, frame, model = iris_model
    features = frame.drop(columns="species")
    expected = model.predict(features)
    assert (expected == frame["species"]).mean() > 0.9
    features[features.columns[::-1]].to_csv(tmp_path / "reordered.csv", index=False)
    status, out, err = run(capsys, "predict", folder / "model.npz", tmp_path / "reordered.csv")
    assert status == 0, err
    assert out.splitlines()[0] == "species" and out.splitlines()[1:] == list(expected)
    features.drop(columns="petal width (cm)").to_csv(tmp_path / "short.csv", index=False)
    one_line_error(capsys, ["predict", folder / "model.npz", tmp_path / "short.csv"],
                   "missing column(s) 'petal width (cm)'; the model reads 4 columns")


@pytest.mark.parametrize("name", ["out.csv", "out.tsv", "out.csv.gz", "out.json", "out.npy", "out.parquet"])
def test_every_output_format(iris_model, tmp_path, capsys, name):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    folder, frame, model = iris_model
    path = tmp_path / name
    status, _, err = run(capsys, "predict", folder / "model.npz", folder / "iris.csv", "-o", path, "--proba")
    assert status == 0, err
    features = frame.drop(columns="species")
    proba = model.predict_proba(features)
    if name.endswith(".npy"):
        np.testing.assert_allclose(np.load(path), proba, rtol=1e-12)
        return
    read = {".json": lambda p: pd.DataFrame(json.loads(p.read_text())), ".parquet": pd.read_parquet,
            ".tsv": lambda p: pd.read_csv(p, sep="\t")}.get(path.suffix, pd.read_csv)
    written = read(path)
    assert list(written.columns) == ["species", "setosa", "versicolor", "virginica"]
    assert list(written["species"]) == list(model.predict(features))
    np.testing.assert_allclose(written.iloc[:, 1:].to_numpy(), proba, rtol=1e-9)


def test_an_unknown_output_format_is_refused_before_anything_is_written(iris_model, tmp_path, capsys):
    folder, _, _ = iris_model
    one_line_error(capsys, ["predict", folder / "model.npz", folder / "iris.csv", "-o",
                            tmp_path / "out.xlsx"], "unknown output format '.xlsx'")
    assert not list(tmp_path.iterdir())
    one_line_error(capsys, ["predict", folder / "model.npz", folder / "iris.csv", "--proba", "-o",
                            tmp_path / "out"], "unknown output format")


def test_a_table_model_file_is_checked_on_load(iris_model, tmp_path):
    folder, _, _ = iris_model
    with np.load(folder / "model.npz") as archive:
        arrays = dict(archive)
    header = json.loads(str(arrays["header"]))
    header["table"]["numeric"]["names"] = header["table"]["numeric"]["names"][:3]
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(fnn.ModelFileError, match="not a sound fastnn table model"):
        fnn.load(tmp_path / "bad.npz")


def test_lr_find_chooses_the_rate(tmp_path, capsys):
    load_iris(as_frame=True).frame.to_csv(tmp_path / "iris.csv", index=False)
    status, out, err = run(capsys, "train", "--data", tmp_path / "iris.csv", "--lr-find",
                           "--no-progress", "--save", tmp_path / "m.npz")
    assert status == 0, err
    suggested = float(re.search(r"suggested lr ([\d.e+-]+), used", out).group(1))
    assert 1e-4 < suggested < 1 and number_after(out, "test accuracy") >= 90
    assert fnn.load(tmp_path / "m.npz").named_steps["mlp"].learning_rate_init == pytest.approx(suggested, rel=1e-2)
    network = next(line for line in out.splitlines() if line.startswith("network "))
    assert f"lr {fnn.load(tmp_path / 'm.npz').named_steps['mlp'].learning_rate_init:g}" in network
    one_line_error(capsys, ["train", "--data", tmp_path / "iris.csv", "--lr-find", "--lr", "0.1"],
                   "--lr-find chooses the learning rate: leave out --lr")
