"""Exports the iris and diabetes data sets that scikit-learn bundles to CSV (no network needed).

Run once from the repository root: `.venv/bin/python data/export.py`. The CSV files are committed.
"""

import csv
import pathlib

from sklearn.datasets import load_diabetes, load_iris

HERE = pathlib.Path(__file__).resolve().parent


def write(path, columns, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([repr(float(v)) if isinstance(v, float) else v for v in row])


def main():
    iris = load_iris()
    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    rows = [list(map(float, x)) + [int(y)] for x, y in zip(iris.data, iris.target)]
    write(HERE / "iris.csv", columns, rows)

    diabetes = load_diabetes()  # the standard, mean-centred and scaled features
    columns = list(diabetes.feature_names) + ["target"]
    rows = [list(map(float, x)) + [float(y)] for x, y in zip(diabetes.data, diabetes.target)]
    write(HERE / "diabetes.csv", columns, rows)


if __name__ == "__main__":
    main()
