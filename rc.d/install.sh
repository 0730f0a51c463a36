#!/bin/sh
# Installs routeagent on a FreeBSD or pfSense router: the bundle, the rc.d script (on pfSense also as routeagent.sh, the
# name pfSense starts at boot), the config folder and the enable knob. Never overwrites a config or an rc.conf.d file.
#
# usage: sh rc.d/install.sh       (as root, from a checkout or a copy of dist/ and rc.d/ side by side)
#   BUNDLE=path  the bundle to install (default: ../dist/routeagent.js next to this script, else ./routeagent.js)
#   ROOT=dir     install under dir instead of / (tests, staging)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=${ROOT:-}
root=${root%/}

libexec=/usr/local/libexec/routeagent
rcd=/usr/local/etc/rc.d
etc=/usr/local/etc/routeagent
rcconf=/usr/local/etc/rc.conf.d/routeagent

fail() {
	echo "install.sh: $*" >&2
	exit 1
}

if [ -n "${BUNDLE:-}" ]; then
	[ -f "$BUNDLE" ] || fail "BUNDLE=$BUNDLE: no such file"
elif [ -f "$here/../dist/routeagent.js" ]; then
	BUNDLE=$here/../dist/routeagent.js
elif [ -f "$here/routeagent.js" ]; then
	BUNDLE=$here/routeagent.js
else
	fail "no dist/routeagent.js beside rc.d/, nor routeagent.js beside install.sh: run ./build.sh first, or set BUNDLE=path"
fi
[ -f "$here/routeagent" ] || fail "no rc script at $here/routeagent"

is_pfsense() {
	[ -f "$root/etc/pfSense-rc" ] && return 0
	[ -f "$root/etc/platform" ] && grep -qi pfsense "$root/etc/platform"
}

[ -z "$root" ] || echo "Installing under ROOT=$root"

install -d -m 0755 "$root$libexec" "$root$rcd" "$root/usr/local/etc/rc.conf.d"
install -m 0444 "$BUNDLE" "$root$libexec/routeagent.js"
echo "installed $libexec/routeagent.js"
# The bundle is CommonJS, node's default for a .js file; saying so here keeps a package.json further up the tree with
# "type": "module" from making node load it as an ES module, which it is not.
rm -f "$root$libexec/package.json"
printf '{ "type": "commonjs" }\n' >"$root$libexec/package.json"
chmod 0444 "$root$libexec/package.json"
echo "installed $libexec/package.json (node runs the bundle as CommonJS)"
install -m 0555 "$here/routeagent" "$root$rcd/routeagent"
echo "installed $rcd/routeagent (service routeagent ...)"
if is_pfsense; then
	# pfSense's /etc/rc skips rcorder: at boot, /etc/rc.start_packages runs `/usr/local/etc/rc.d/*.sh start`.
	install -m 0555 "$here/routeagent" "$root$rcd/routeagent.sh"
	echo "installed $rcd/routeagent.sh (pfSense starts it at boot)"
fi

for dir in "$etc" "$etc/maps"; do
	if [ -d "$root$dir" ]; then
		echo "kept      $dir/"
	else
		install -d -m 0755 "$root$dir"
		echo "created   $dir/"
	fi
done

# HAProxy (and pfSense's Apply check) refuse a config whose map file is missing: create empty ones to start from.
for map in hosts sni; do
	if [ -e "$root$etc/maps/$map.map" ]; then
		echo "kept      $etc/maps/$map.map"
	else
		install -m 0644 /dev/null "$root$etc/maps/$map.map"
		echo "created   $etc/maps/$map.map (empty)"
	fi
done

if [ -e "$root$etc/config.json" ]; then
	echo "kept      $etc/config.json"
else
	# A sample: 192.0.2.0/24 is a documentation network, so `check` fails (and `start` refuses) until it is edited.
	cat > "$root$etc/config.json" <<'EOF'
{
  "clusters": [
    {
      "name": "k3s-a",
      "api": "http://192.0.2.10:9000/api",
      "backends": { "sni": "k3s_a_https_ipvANY", "hosts": "k3s_a_http_ipvANY" }
    }
  ],
  "expose": { "domains": ["example.org"] }
}
EOF
	chmod 0640 "$root$etc/config.json"   # it may hold cluster credentials
	echo "wrote     $etc/config.json (a sample: edit it)"
fi

if [ -e "$root$rcconf" ]; then
	echo "kept      $rcconf"
else
	echo 'routeagent_enable="YES"' > "$root$rcconf"
	echo "wrote     $rcconf (routeagent_enable=\"YES\")"
fi

[ -x "$root/usr/local/bin/node" ] ||
    echo "warning: no /usr/local/bin/node: install Node.js >= 20, or set routeagent_node in $rcconf" >&2

cat <<EOF

Next steps:
  1. Edit $etc/config.json: your clusters, and the domains you allow to be exposed.
  2. node $libexec/routeagent.js snippet: paste its lines into the HAProxy frontends, then Apply.
  3. service routeagent check     (validates the config, reaches each cluster, runs haproxy -c)
  4. service routeagent start     (or: service routeagent restart, to run a new version)
  5. service routeagent status    (the last sync; the log is in syslog, tag routeagent)
EOF
