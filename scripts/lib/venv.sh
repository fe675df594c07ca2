# Sourced by scripts that keep a project-local Python virtualenv.
#
# make_venv DIR: create DIR as a virtualenv. Some Pythons ship without ensurepip
# (Debian's python3 without python3-venv), where `python3 -m venv` fails; pip is
# then used to install virtualenv for this user, which needs neither.
make_venv() {
  local dir="$1"
  if python3 -m venv "$dir" >/dev/null 2>&1; then
    return 0
  fi
  rm -rf "$dir"
  echo "venv: python3 -m venv failed; using virtualenv from PyPI" >&2
  python3 -m pip install --quiet --disable-pip-version-check --user virtualenv >&2
  python3 -m virtualenv --quiet "$dir" >&2
}
