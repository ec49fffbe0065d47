"""Fetch MNIST into a folder at image build time (keras.datasets' own copy, mnist.npz).

python deploy/fetch_mnist.py /opt/mnist
"""

import shutil
import sys
from pathlib import Path

import keras

target = Path(sys.argv[1])
target.mkdir(parents=True, exist_ok=True)
path = keras.utils.get_file(
    "mnist.npz", "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz", cache_dir=str(target)
)
shutil.move(path, target / "mnist.npz")
print(f"MNIST in {target / 'mnist.npz'}")
