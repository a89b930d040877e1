#!/bin/sh
# Benchmark: fisbot's HTTP server against nginx (sendfile on), both started
# here on loopback over the same files, measured alternately in one run
# with wrk (keep-alive):
#   - 4 KiB file: requests per second (goal: fisbot >= 0.8 x nginx)
#   - 100 MiB file: throughput (goal: fisbot >= 1.0 x nginx), and the
#     server's CPU time (user + system) per GiB sent
# With HTTPS=1 in the environment, both serve HTTPS with the same
# certificate (an ECDSA P-256 one made here by openssl): fisbot with its
# own TLS ([http] tls_cert, libmicrohttpd's GnuTLS), nginx with ssl.
# Neither can use sendfile then (nginx without kernel TLS reads and
# encrypts in user space too).
# Then, with [transfers] max_rate set (each cap of CAPS, default
# "2M 20M 200M"), a second server on the same catalogue, 4 connections on the
# 100 MiB file for the same time: the rate achieved against the cap and the
# server's CPU (percent of one core, and per MiB/s sent).
# It prints figures; it asserts nothing. With BASELINE=OTHER_BUILD_DIR in
# the environment, that build's tests/http_server (another version of the
# server) is measured in the same rounds too, as a third column.
#
# usage: tests/bench/bench_http.sh [BUILD_DIR] [ROUNDS] [SECONDS]
# BUILD_DIR (default ./build) holds bot/fisbot and tests/http_server.
set -eu

build=$(cd "${1:-build}" && pwd)
rounds=${2:-3}
secs=${3:-5}
fisbot=$build/bot/fisbot
server=$build/tests/http_server
nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
cores=$(nproc)

base_server=
[ -z "${BASELINE:-}" ] || base_server=$(cd "$BASELINE" && pwd)/tests/http_server
for tool in "$fisbot" "$server" "$nginx" ${base_server:+"$base_server"}; do
	[ -x "$tool" ] || { echo "bench: $tool is missing" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 2; }

tmp=$(mktemp -d)
srv_pid=
ngx_pid=
base_pid=
cap_pid=
cleanup() {
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
	[ -n "$cap_pid" ] && kill "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null
	[ -n "$base_pid" ] && kill "$base_pid" 2>/dev/null && wait "$base_pid" 2>/dev/null
	[ -n "$ngx_pid" ] && kill "$ngx_pid" 2>/dev/null && wait "$ngx_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

mkdir -p "$tmp/share" "$tmp/nginx"
scheme=http
tls_conf=
ngx_ssl=
curl_ca=
if [ "${HTTPS:-0}" = 1 ]; then
	scheme=https
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
	tls_conf="tls_cert = $tmp/cert.pem
tls_key = $tmp/key.pem"
	ngx_ssl="ssl; ssl_certificate $tmp/cert.pem; ssl_certificate_key $tmp/key.pem"
	curl_ca="--cacert $tmp/cert.pem"
fi
head -c 4096 /dev/urandom >"$tmp/share/small.bin"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$tmp/share/big.bin"

# A free loopback port for nginx.
ngx_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$tmp/fisbot.conf" <<CONF
[xmpp]
jid = bench@localhost
password = x
[share]
path = share
database = fisbot.db
settle = 0
[http]
listen = 127.0.0.1:0
base_url = $scheme://127.0.0.1:1
url_lifetime = 0
$tls_conf
max_connections = 1024
max_per_ip = 1024
[log]
level = warn
CONF

# nginx's workers run as the current user (as root it would switch to
# nobody, who cannot read the temporary share).
cat >"$tmp/nginx/nginx.conf" <<CONF
user $(id -un) $(id -gn);
worker_processes $cores;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 2048; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	server {
		listen 127.0.0.1:$ngx_port $ngx_ssl;
		root $tmp/share;
		etag on;
	}
}
CONF

(cd "$tmp" && exec "$server" -c fisbot.conf >"$tmp/port" 2>"$tmp/server.log") &
srv_pid=$!
if [ -n "$base_server" ]; then
	# Waits for the first server's indexer, then shares its catalogue.
	while ! grep -q '^port ' "$tmp/port" 2>/dev/null; do sleep 0.1; done
	(cd "$tmp" && exec "$base_server" -c fisbot.conf >"$tmp/base_port" 2>"$tmp/base.log") &
	base_pid=$!
	while ! grep -q '^port ' "$tmp/base_port" 2>/dev/null; do sleep 0.1; done
fi
"$nginx" -e "$tmp/nginx/error.log" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
ngx_pid=$!
i=0
while ! grep -q '^port ' "$tmp/port" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "bench: the server did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }
	sleep 0.1
done
srv_port=$(awk '{print $2}' "$tmp/port")
sleep 0.5

url_of() { # PATH: the fisbot link of a file, on the real port
	"$fisbot" url -c "$tmp/fisbot.conf" "$1" | sed "s|^$scheme://127.0.0.1:1|$scheme://127.0.0.1:$srv_port|"
}
f_small=$(url_of small.bin)
f_big=$(url_of big.bin)
n_small=$scheme://127.0.0.1:$ngx_port/small.bin
n_big=$scheme://127.0.0.1:$ngx_port/big.bin
if [ -n "$base_server" ]; then
	base_port=$(awk '{print $2}' "$tmp/base_port")
	b_small=$(echo "$f_small" | sed "s|:$srv_port/|:$base_port/|")
	b_big=$(echo "$f_big" | sed "s|:$srv_port/|:$base_port/|")
	curl -sf $curl_ca "$b_small" | cmp -s - "$tmp/share/small.bin" || { echo "bench: $b_small serves wrong bytes" >&2; exit 1; }
fi

# Check both serve the same bytes before measuring.
for u in "$f_small" "$n_small"; do
	curl -sf $curl_ca "$u" | cmp -s - "$tmp/share/small.bin" || { echo "bench: $u serves wrong bytes" >&2; exit 1; }
done

# wrk_run CONNS URL -> prints "REQS_PER_SEC BYTES_PER_SEC"
wrk_run() {
	wrk -t "$cores" -c "$1" -d "${secs}s" "$2" | awk '
		/^Requests\/sec:/ { r = $2 }
		/^Transfer\/sec:/ {
			v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v)
			m = 1
			if (u == "KB") m = 1024; else if (u == "MB") m = 1048576; else if (u == "GB") m = 1073741824
			b = v * m
		}
		END { printf "%.0f %.0f\n", r, b }'
}

# cpu_ticks PID... -> user + system clock ticks used by the processes
cpu_ticks() {
	t=0
	for p in "$@"; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo $t
}
hz=$(getconf CLK_TCK)

# big_run URL PID... -> "BYTES_PER_SEC CPU_SECONDS_PER_GIB"
big_run() {
	url=$1
	shift
	c0=$(cpu_ticks "$@")
	b=$(wrk_run 4 "$url" | cut -d' ' -f2)
	c1=$(cpu_ticks "$@")
	awk -v b="$b" -v c=$((c1 - c0)) -v hz="$hz" -v s="$secs" 'BEGIN {
		g = b * s / 1073741824; printf "%.0f %.3f\n", b, (g > 0 ? c / hz / g : 0) }'
}

ngx_pids="$ngx_pid $(pgrep -P "$ngx_pid" | tr '\n' ' ')"
echo "fisbot HTTP benchmark ($scheme): $cores cores, $rounds rounds of ${secs}s, wrk keep-alive"
if [ -n "$base_server" ]; then
	echo "round  test          fisbot       nginx        ratio  baseline     ratio"
else
	echo "round  test          fisbot            nginx             ratio"
fi
fs_tot=0 ns_tot=0 fb_tot=0 nb_tot=0 bs_tot=0 bb_tot=0 fc_tot=0 nc_tot=0 bc_tot=0
r=1
while [ $r -le "$rounds" ]; do
	fs=$(wrk_run 64 "$f_small" | cut -d' ' -f1)
	ns=$(wrk_run 64 "$n_small" | cut -d' ' -f1)
	bs=0
	[ -z "$base_server" ] || bs=$(wrk_run 64 "$b_small" | cut -d' ' -f1)
	set -- $(big_run "$f_big" "$srv_pid")
	fb=$1 fc=$2
	# shellcheck disable=SC2086
	set -- $(big_run "$n_big" $ngx_pids)
	nb=$1 nc=$2
	bb=0 bc=0
	if [ -n "$base_server" ]; then
		set -- $(big_run "$b_big" "$base_pid")
		bb=$1 bc=$2
	fi
	if [ -n "$base_server" ]; then
		awk -v r=$r -v fs=$fs -v ns=$ns -v fb=$fb -v nb=$nb -v bs=$bs -v bb=$bb -v fc=$fc -v nc=$nc -v bc=$bc 'BEGIN {
			printf "%-6d 4KiB req/s   %-12.0f %-12.0f %-6.2f %-12.0f %.2f\n", r, fs, ns, fs / ns, bs, bs / ns
			printf "%-6d 100MiB MiB/s %-12.1f %-12.1f %-6.2f %-12.1f %.2f\n", r, fb / 1048576, nb / 1048576, fb / nb, bb / 1048576, bb / nb
			printf "%-6d CPU s/GiB    %-12.3f %-12.3f %-6s %-12.3f\n", r, fc, nc, "", bc }'
	else
		awk -v r=$r -v fs=$fs -v ns=$ns -v fb=$fb -v nb=$nb -v fc=$fc -v nc=$nc 'BEGIN {
			printf "%-6d 4KiB req/s   %-17.0f %-17.0f %.2f\n", r, fs, ns, fs / ns
			printf "%-6d 100MiB MiB/s %-17.1f %-17.1f %.2f\n", r, fb / 1048576, nb / 1048576, fb / nb
			printf "%-6d CPU s/GiB    %-17.3f %-17.3f\n", r, fc, nc }'
	fi
	fs_tot=$(awk -v a=$fs_tot -v b=$fs 'BEGIN { print a + b }')
	ns_tot=$(awk -v a=$ns_tot -v b=$ns 'BEGIN { print a + b }')
	fb_tot=$(awk -v a=$fb_tot -v b=$fb 'BEGIN { print a + b }')
	nb_tot=$(awk -v a=$nb_tot -v b=$nb 'BEGIN { print a + b }')
	bs_tot=$(awk -v a=$bs_tot -v b=$bs 'BEGIN { print a + b }')
	bb_tot=$(awk -v a=$bb_tot -v b=$bb 'BEGIN { print a + b }')
	fc_tot=$(awk -v a=$fc_tot -v b=$fc 'BEGIN { print a + b }')
	nc_tot=$(awk -v a=$nc_tot -v b=$nc 'BEGIN { print a + b }')
	bc_tot=$(awk -v a=$bc_tot -v b=$bc 'BEGIN { print a + b }')
	r=$((r + 1))
done
if [ -n "$base_server" ]; then
	awk -v n=$rounds -v fs=$fs_tot -v ns=$ns_tot -v fb=$fb_tot -v nb=$nb_tot -v bs=$bs_tot -v bb=$bb_tot -v fc=$fc_tot -v nc=$nc_tot -v bc=$bc_tot 'BEGIN {
		printf "mean   4KiB req/s   %-12.0f %-12.0f %-6.2f %-12.0f %.2f\n", fs / n, ns / n, fs / ns, bs / n, bs / ns
		printf "mean   100MiB MiB/s %-12.1f %-12.1f %-6.2f %-12.1f %.2f\n", fb / n / 1048576, nb / n / 1048576, fb / nb, bb / n / 1048576, bb / nb
		printf "mean   CPU s/GiB    %-12.3f %-12.3f %-6s %-12.3f\n", fc / n, nc / n, "", bc / n }'
else
	awk -v n=$rounds -v fs=$fs_tot -v ns=$ns_tot -v fb=$fb_tot -v nb=$nb_tot -v fc=$fc_tot -v nc=$nc_tot 'BEGIN {
		printf "mean   4KiB req/s   %-17.0f %-17.0f %.2f  (goal >= 0.80)\n", fs / n, ns / n, fs / ns
		printf "mean   100MiB MiB/s %-17.1f %-17.1f %.2f  (goal >= 1.00)\n", fb / n / 1048576, nb / n / 1048576, fb / nb
		printf "mean   CPU s/GiB    %-17.3f %-17.3f\n", fc / n, nc / n }'
fi

# With caps: another server on the same share and catalogue, one cap at a
# time.
echo
echo "with [transfers] max_rate: 4 connections on the 100 MiB file, ${secs}s each"
echo "cap      achieved MiB/s  of cap  CPU % of a core  CPU % per MiB/s"
for cap in ${CAPS:-2M 20M 200M}; do
	sed "s/^\[log\]/[transfers]\nmax_rate = $cap\n[log]/" "$tmp/fisbot.conf" >"$tmp/capped.conf"
	rm -f "$tmp/cap_port"
	(cd "$tmp" && exec "$server" -c capped.conf >"$tmp/cap_port" 2>"$tmp/capped.log") &
	cap_pid=$!
	i=0
	while ! grep -q '^port ' "$tmp/cap_port" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "bench: the capped server did not start" >&2; exit 1; }
		sleep 0.1
	done
	cap_port=$(awk '{print $2}' "$tmp/cap_port")
	c_big=$(echo "$f_big" | sed "s|:$srv_port/|:$cap_port/|")
	c0=$(cpu_ticks "$cap_pid")
	b=$(wrk -t 2 -c 4 -d "${secs}s" "$c_big" | awk '
		/^Transfer\/sec:/ {
			v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v)
			m = 1
			if (u == "KB") m = 1024; else if (u == "MB") m = 1048576; else if (u == "GB") m = 1073741824
			printf "%.0f\n", v * m
		}')
	c1=$(cpu_ticks "$cap_pid")
	kill "$cap_pid" && wait "$cap_pid" 2>/dev/null
	cap_pid=
	awk -v cap="$cap" -v b="$b" -v c=$((c1 - c0)) -v hz="$hz" -v s="$secs" 'BEGIN {
		v = cap; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v)
		m = 1
		if (u == "K") m = 1024; else if (u == "M") m = 1048576; else if (u == "G") m = 1073741824
		capb = v * m; mib = b / 1048576; cpu = c / hz / s * 100
		printf "%-8s %-15.2f %-7.3f %-16.2f %.3f\n", cap, mib, b / capb, cpu, (mib > 0 ? cpu / mib : 0) }'
done
