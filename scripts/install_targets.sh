# What `make setup` installs and `make constraints` pins (sourced by both scripts).
#
# torch is pinned and installed on its own, first: on Linux the torch wheel on PyPI is the CUDA
# build, which brings about 17 nvidia-*/cuda packages (a 6 GB virtualenv). With the CPU build
# already in place, the extras' "torch>=2.1" is satisfied and pip looks for no other torch.
TORCH_REQUIREMENT="torch==2.13.0"
# The three packages of this repository, editable, with every extra, the dev and bench tools.
INSTALL_TARGETS=(
  -e ".[all,dev,bench]"
  -e "integrations/langchain[test]"
  -e "integrations/llama-index[test]"
)
# Their distribution names: editable, so never pinned in constraints.txt.
LOCAL_DISTRIBUTIONS="rankwise langchain-rankwise llama-index-rankwise"
