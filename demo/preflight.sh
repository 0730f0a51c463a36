#!/bin/sh
# Run by `npm run demo` before anything is built: the demo needs node >= 20, a real haproxy ($HAPROXY_BIN, else haproxy on
# the PATH) and openssl (its TLS upstreams make a self-signed certificate). Prints how to get each missing tool; exits 1 if any.
missing=0

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
if [ "${major:-0}" -lt 20 ] 2>/dev/null; then
	echo "demo: node ${major:-(none)} found, node >= 20 needed: install Node.js 20 or newer (https://nodejs.org or your distribution's nodejs package)" >&2
	missing=1
fi

haproxy=${HAPROXY_BIN:-haproxy}
if ! "$haproxy" -v >/dev/null 2>&1; then
	echo "demo: haproxy: cannot run \"$haproxy\": install it (Debian/Ubuntu: sudo apt-get install -y haproxy) or set HAPROXY_BIN to a haproxy >= 2.4 binary" >&2
	missing=1
fi

if ! command -v openssl >/dev/null 2>&1; then
	echo "demo: openssl: not found: install it (Debian/Ubuntu: sudo apt-get install -y openssl)" >&2
	missing=1
fi

if [ "$missing" -ne 0 ]; then
	echo "demo: nothing was built or started; run npm run demo again once these are installed" >&2
fi
exit "$missing"
