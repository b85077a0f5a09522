#!/usr/bin/env bash
# Install the peer libraries the benchmark runs beside rgan, each in its own virtual environment under
# bench/peers/.venvs/<peer> (never a dependency of rgan; pinned so a rerun installs what was measured).
#   bash bench/peers/install.sh [dgan] [ydata]      (default: both)
# dgan:  gretel-synthetics' DGAN (DoppelGANger in PyTorch). torch goes first, pinned to the CPU wheel, so the
#        library's `torch>=1.13` is already satisfied and pip pulls no CUDA build. gretel-synthetics' full
#        requirements cannot be met on Python 3.11 (its pinned rdt<1.3 has no release for it; rdt and sdv serve its
#        other synthesizers), so it goes in without them, beside its own pins of what the DGAN module imports.
# ydata: ydata-synthetic's TimeGAN (TensorFlow 2.15, CPU); 1.4.0, the last release that imports (2.0.1 calls an
#        undefined `warn` in its __init__).
set -euo pipefail
cd "$(dirname "$0")"
pip_quiet() { "$@" --quiet --disable-pip-version-check; }
for peer in "${@:-dgan ydata}"; do
  for p in $peer; do
    rm -rf ".venvs/$p"
    python3 -m venv ".venvs/$p"
    case "$p" in
      dgan)  pip_quiet ".venvs/$p/bin/pip" install torch==2.13.0
             pip_quiet ".venvs/$p/bin/pip" install "numpy<1.24" "pandas<2" "scipy<1.11" "category-encoders==2.4.0" "tqdm<5"
             pip_quiet ".venvs/$p/bin/pip" install --no-deps "gretel-synthetics==0.22.20" ;;
      ydata) pip_quiet ".venvs/$p/bin/pip" install "ydata-synthetic==1.4.0" ;;
      *) echo "install.sh: unknown peer '$p' (known: dgan, ydata)" >&2; exit 2 ;;
    esac
    echo "installed $p: $(.venvs/$p/bin/python -m pip --disable-pip-version-check freeze | wc -l) packages"
  done
done
