# Sourced by the scripts that need Debian's archive. Defines debian_mirror (needs SUDO set, "" as root).
# The Debian archive this machine's apt already uses (its main suite, whatever mirror the sources name),
# so that no host name is written here; ESM_ONNX_DEBIAN_MIRROR overrides it.
debian_mirror() {
  if [ -n "${ESM_ONNX_DEBIAN_MIRROR:-}" ]; then echo "$ESM_ONNX_DEBIAN_MIRROR"; return; fi
  local codename uri
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  find_uri() {
    apt-cache policy 2>/dev/null | awk -v n="n=$codename," '
      /^ *-?[0-9]+ [a-z+]+:\/\// {uri = $2; next}
      /release / && index($0, "o=Debian,") && index($0, n) {print uri; exit}'
  }
  uri="$(find_uri)"
  if [ -z "$uri" ]; then
    $SUDO apt-get update -qq
    uri="$(find_uri)"
  fi
  if [ -z "$uri" ]; then
    echo "no Debian archive for '$codename' in this machine's apt sources; set ESM_ONNX_DEBIAN_MIRROR to one" >&2
    exit 1
  fi
  echo "$uri"
}

