"""Running things for tools/bench/compare: the Bazel build, the servers
(nginx with a generated configuration, compare_servers), and each client
run measured with wait4: wall time, user + system CPU of the client and the
children it waited for, peak RSS. Every process started here runs in a
session of its own and is killed, with its group, when its time is up, when
the script stops on an error or on Ctrl-C, or at exit."""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BENCH = os.path.join(ROOT, "tools", "bench")

# Process groups to kill if the script stops early.
_live = set()


def _kill_all():
    for pgid in list(_live):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    _live.clear()


atexit.register(_kill_all)


def _on_term(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


# Ctrl-C raises KeyboardInterrupt even where SIGINT came in ignored (a
# background job of a script).
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, _on_term)
signal.signal(signal.SIGHUP, _on_term)


def raise_nofile():
    """The soft limit on open files up to the hard one; children inherit it."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def bazel_build(targets, log):
    """bazel build -c opt TARGETS; returns (bazel-bin folder or None, why)."""
    argv = ["bazel", "build", "-c", "opt"] + targets
    if shutil.which("bazel") is None:
        return None, "bazel not found"
    log("build: " + " ".join(argv))
    p = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if p.returncode != 0:
        tail = [l for l in p.stdout.splitlines() if "ERROR" in l][-1:] or ["exit %d" % p.returncode]
        return None, "build failed: " + tail[0][:160]
    info = subprocess.run(["bazel", "info", "-c", "opt", "bazel-bin"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return info.stdout.strip() or os.path.join(ROOT, "bazel-bin"), None


def go_build(out_dir, log):
    """Builds peers/go_client.go offline (standard library only) into a
    cache folder of its own; returns (path or None, why)."""
    go = shutil.which("go")
    if go is None:
        return None, "go not found"
    cache = os.path.join(tempfile.gettempdir(), "gust-compare-go")
    os.makedirs(cache, exist_ok=True)
    env = dict(os.environ, GOCACHE=os.path.join(cache, "build"), GOPATH=os.path.join(cache, "path"),
               GOFLAGS="", GOPROXY="off", GO111MODULE="on", CGO_ENABLED="0")
    path = os.path.join(cache, "go_client")  # not in the results: 6 MiB
    log("build: go build peers/go_client.go")
    p = subprocess.run([go, "build", "-o", path, os.path.join(BENCH, "peers", "go_client.go")],
                       cwd=out_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300)
    if p.returncode != 0:
        return None, "go build failed: " + (p.stdout.strip().splitlines() or ["?"])[-1][:160]
    return path, None


class Measured:
    """One finished run: exit status, output, wall seconds from start to
    exit, CPU seconds (user + system, with reaped children), peak RSS in
    KiB, and whether it was killed for running out of time."""

    def __init__(self, status, output, wall_s, cpu_s, maxrss_kb, timed_out):
        self.status = status
        self.output = output
        self.wall_s = wall_s
        self.cpu_s = cpu_s
        self.maxrss_kb = maxrss_kb
        self.timed_out = timed_out


# tools/bench/run_measured, once built: see measure().
helper = None


def measure(argv, timeout_s, cwd=None, env=None):
    """Runs argv to its end (killed after timeout_s) with its output in a
    file; returns a Measured, or raises FileNotFoundError. Through
    run_measured when it is built (a client forked by this script would
    inherit the script's peak RSS as its own: see run_measured.c); else with
    os.wait4 here, whose RSS is then at least this script's."""
    if helper is not None:
        m = _spawn([helper, "%g" % timeout_s] + list(argv), timeout_s + 10, cwd, env)
        if m.status == 127 and "run_measured: " in m.output:
            raise FileNotFoundError(2, m.output.strip(), argv[0])
        found = re.search(r"\nrun-measured status=(\d+) wall_ns=(\d+) cpu_ns=(\d+) "
                          r"maxrss_kb=(\d+) timed_out=(\d)\n$", m.output)
        if found is None:
            return m
        return Measured(int(found.group(1)), m.output[:found.start()],
                        int(found.group(2)) / 1e9, int(found.group(3)) / 1e9,
                        int(found.group(4)), found.group(5) == "1")
    return _spawn(argv, timeout_s, cwd, env)


def _spawn(argv, timeout_s, cwd, env):
    with tempfile.TemporaryFile(mode="w+") as out:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             cwd=cwd, env=env, start_new_session=True)
        _live.add(p.pid)
        timed_out = reaped = False
        try:
            while not reaped:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                reaped = pid == p.pid
                if not reaped and time.monotonic() - t0 > timeout_s and not timed_out:
                    timed_out = True
                    os.killpg(p.pid, signal.SIGKILL)
                if not reaped:
                    time.sleep(0.005)
        finally:
            # The group may hold children the client left behind; and on an
            # early stop (Ctrl-C), the client itself.
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            if not reaped:
                try:
                    os.wait4(p.pid, 0)
                except ChildProcessError:
                    pass
            _live.discard(p.pid)
        p.returncode = status  # wait4 reaped it: keep Popen from waiting again
        wall = time.monotonic() - t0
        out.seek(0)
        text = out.read()
    return Measured(os.waitstatus_to_exitcode(status), text, wall,
                    ru.ru_utime + ru.ru_stime, ru.ru_maxrss, timed_out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout_s, proc):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def _stop(proc, sig):
    if proc is None or proc.poll() is not None:
        _live.discard(proc.pid if proc else None)
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
    _live.discard(proc.pid)


NGINX_CONF = """# Written by tools/bench/compare for one run.
daemon off;
master_process on;
worker_processes 1;
{user}pid {dir}/nginx.pid;
lock_file {dir}/nginx.lock;
error_log {dir}/error.log warn;
worker_rlimit_nofile 20000;
events {{
    worker_connections 10000;
}}
http {{
    access_log off;
    default_type application/octet-stream;
    # A response's head and a small file in one writev, one segment, not
    # two (which made the client's kernel ACK at once: four segments a
    # request); tests/support/nginx.c says more.
    sendfile off;
    tcp_nodelay on;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    # Served files stay open: no open, stat and close per request in the
    # server, whose one worker caps every client.
    open_file_cache max=1024 inactive=60s;
    client_body_temp_path {dir}/temp/client_body;
    proxy_temp_path {dir}/temp/proxy;
    fastcgi_temp_path {dir}/temp/fastcgi;
    uwsgi_temp_path {dir}/temp/uwsgi;
    scgi_temp_path {dir}/temp/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        server_name localhost;
        root {dir}/www;
    }}
}}
"""


class Servers:
    """nginx serving /1k.bin and /64k.bin, and compare_servers on two ports
    (50 ms answers, /hold/N); stopped by stop() or at exit."""

    def __init__(self, servers_bin, log):
        self.log = log
        self.servers_bin = servers_bin
        self.nginx = None
        self.delay = None
        self.dir = tempfile.mkdtemp(prefix="gust-compare-")
        self.nginx_port = None
        self.delay_ports = []
        self.nginx_why = None
        self.delay_why = None

    def start(self):
        self._start_nginx()
        self._start_delay()
        return self

    def _start_nginx(self):
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                          else None)
        if nginx is None:
            self.nginx_why = "nginx not found"
            return
        os.makedirs(os.path.join(self.dir, "www"))
        os.makedirs(os.path.join(self.dir, "temp"))
        for name, size in (("1k.bin", 1024), ("64k.bin", 64 * 1024)):
            with open(os.path.join(self.dir, "www", name), "wb") as f:
                f.write(bytes(i % 251 for i in range(size)))
        for attempt in range(5):
            port = free_port()
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(dir=self.dir, port=port,
                                          user="user root root;\n" if os.geteuid() == 0 else ""))
            proc = subprocess.Popen([nginx, "-p", self.dir + "/", "-c", conf, "-e",
                                     os.path.join(self.dir, "error.log")],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            _live.add(proc.pid)
            if wait_port(port, 5, proc):
                self.nginx, self.nginx_port = proc, port
                self.log("nginx on 127.0.0.1:%d" % port)
                return
            _stop(proc, signal.SIGKILL)
        with open(os.path.join(self.dir, "error.log")) as f:
            self.nginx_why = "nginx did not start: " + (f.read().strip().splitlines() or ["?"])[-1]

    def _start_delay(self):
        if self.servers_bin is None or not os.path.exists(self.servers_bin):
            self.delay_why = "compare_servers not built"
            return
        proc = subprocess.Popen([self.servers_bin, "--ports=2", "--delay-ms=50"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                start_new_session=True, text=True)
        _live.add(proc.pid)
        ports = []
        for line in proc.stdout:
            if line.startswith("port "):
                ports.append(int(line.split()[1]))
            if line.strip() == "ready":
                break
        if len(ports) != 2:
            _stop(proc, signal.SIGKILL)
            self.delay_why = "compare_servers did not start"
            return
        self.delay, self.delay_ports = proc, ports
        self.log("compare_servers on 127.0.0.1:%d and :%d" % tuple(ports))

    def nginx_url(self, name):
        return "http://127.0.0.1:%s/%s" % (self.nginx_port, name)

    def delay_url(self, which, path):
        port = self.delay_ports[which] if self.delay_ports else None
        return "http://127.0.0.1:%s/%s" % (port, path)

    def stop(self):
        # nginx: SIGQUIT is its graceful stop; compare_servers ends with its stdin.
        _stop(self.nginx, signal.SIGQUIT)
        if self.delay is not None:
            try:
                self.delay.stdin.close()
            except OSError:
                pass
            try:
                self.delay.wait(timeout=3)
                _live.discard(self.delay.pid)
            except subprocess.TimeoutExpired:
                _stop(self.delay, signal.SIGKILL)
        self.nginx = self.delay = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def log_to_stderr(message):
    print("compare: " + message, file=sys.stderr, flush=True)
