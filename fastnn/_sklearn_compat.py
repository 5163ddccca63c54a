"""Every private scikit-learn name the drop-ins use, in one place: a scikit-learn release that
moves one breaks this file only. Supported: scikit-learn >= 1.7 (its MLPs take sample_weight and
loss="poisson" from 1.7, so the drop-ins can be its model), < 1.10 (tested: 1.7.2, 1.9.1);
pyproject.toml declares the same range."""
from sklearn.neural_network import MLPClassifier as _SkClassifier
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight

#: scikit-learn's parameter rules of its MLP estimators (a private class attribute)
MLP_PARAMETER_CONSTRAINTS = dict(_SkClassifier._parameter_constraints)

__all__ = ["MLP_PARAMETER_CONSTRAINTS", "StrOptions", "_check_optimize_result",
           "_check_partial_fit_first_call", "_check_sample_weight"]
