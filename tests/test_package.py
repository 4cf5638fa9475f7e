"""Tests of the package surface: public names, import weight, errors."""

import importlib.metadata

import pytest

import tfxfer
from tfxfer import errors


def test_all_is_sorted_and_every_name_resolves():
    assert list(tfxfer.__all__) == sorted(tfxfer.__all__)
    for name in tfxfer.__all__:
        assert getattr(tfxfer, name) is not None, name


def test_version_matches_installed_metadata():
    assert tfxfer.__version__ == importlib.metadata.version("tfxfer")


def test_every_error_is_a_tfxfer_error():
    classes = [
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, Exception)
    ]
    assert errors.TfxferError in classes and len(classes) > 1
    for cls in classes:
        assert issubclass(cls, errors.TfxferError), cls


def test_import_does_not_load_gensim(fresh_python):
    out = fresh_python("import sys, tfxfer; print('gensim' in sys.modules)")
    assert out.strip() == "False"


def test_tfxfer_adds_no_heavy_import_beyond_keras(fresh_python):
    # Keras 3 itself imports pandas, scikit-learn and matplotlib when they are
    # installed (for its optional integrations); tfxfer must add none.
    out = fresh_python(
        """
        import sys
        heavy = ("gensim", "pandas", "sklearn", "matplotlib", "scipy")
        import keras
        before = {m for m in heavy if m in sys.modules}
        import tfxfer
        after = {m for m in heavy if m in sys.modules}
        print(sorted(after - before))
        """
    )
    assert out.strip() == "[]"


def test_import_works_without_optional_packages(fresh_python):
    # With gensim, pandas, scikit-learn and matplotlib unavailable, tfxfer
    # still imports (and so does Keras): none of them is needed at import.
    out = fresh_python(
        """
        import sys
        for name in ("gensim", "pandas", "sklearn", "matplotlib"):
            sys.modules[name] = None  # makes `import name` raise ImportError
        import tfxfer
        print(tfxfer.__version__)
        """
    )
    assert out.strip() == tfxfer.__version__


def test_require_names_the_pip_install():
    from tfxfer.utils.validation import require

    with pytest.raises(ImportError, match="pip install not-a-real-package"):
        require("not_a_real_module", feature="This test", extra="not-a-real-package")
