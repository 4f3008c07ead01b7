# Sourced by scripts/build.sh and scripts/fuzz.sh from the checkout's root:
# sets `launcher` to the CMake options that compile through ccache when it
# is installed (empty otherwise) and exports ccache's settings.
launcher=()
if command -v ccache >/dev/null; then
  # Paths relative to the checkout, so clones in other folders (CI's) share
  # one compiler cache; sanitizer builds differ in flags and never collide.
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-10G}"
  export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-include_file_mtime,include_file_ctime}"
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
