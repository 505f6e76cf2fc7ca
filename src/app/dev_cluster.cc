#include "app/dev_cluster.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "common/result.h"

namespace fjord::app {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxNodes = 9;
constexpr int kPortStride = 10;  // node i's ports start at base_port + 10 * (i - 1)
constexpr int kPortsPerNode = 4;
constexpr int kMaxPort = 65535;
constexpr auto kStopGrace = std::chrono::seconds(10);
constexpr size_t kMaxLineBytes = 64 * 1024;  // a longer unterminated line is forwarded in pieces
constexpr size_t kReadChunk = 16 * 1024;
constexpr int kChildSetupFailed = 127;

std::string errno_text(int err) {
    return std::error_code(err, std::generic_category()).message();
}

Unexpected<std::string> fail(std::string what) {
    return make_unexpected(std::move(what));
}

Unexpected<std::string> fail_errno(const std::string& what) {
    return fail(what + ": " + errno_text(errno));
}

void write_stdout(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

// A line of the supervisor's own, on stdout between the children's lines.
void note(const std::string& message) {
    write_stdout("[dev-cluster] " + message + "\n");
}

void report_error(const std::string& message) {
    std::fprintf(stderr, "fjord dev-cluster: %s\n", message.c_str());
    std::fflush(stderr);
}

class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : _fd(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : _fd(std::exchange(other._fd, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset();
            _fd = std::exchange(other._fd, -1);
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return _fd; }
    explicit operator bool() const { return _fd >= 0; }
    void reset() {
        if (_fd >= 0) ::close(_fd);
        _fd = -1;
    }

  private:
    int _fd = -1;
};

struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

Result<Pipe, std::string> make_pipe(const std::string& purpose, int extra_flags = 0) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | extra_flags) != 0) return fail_errno("cannot create pipe for " + purpose);
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// ---- Options, ports and the endpoints table ----

struct Endpoints {
    int kafka;
    int rpc;
    int admin;
    int redis;
};

Endpoints endpoints_of(const DevClusterOptions& options, int node) {
    int kafka = options.base_port + kPortStride * (node - 1);
    return {kafka, kafka + 1, kafka + 2, kafka + 3};
}

std::string local_addr(int port) {
    return "127.0.0.1:" + std::to_string(port);
}

std::string node_dir(const DevClusterOptions& options, int node) {
    return options.data_dir + "/node-" + std::to_string(node);
}

Result<Ok, std::string> validate(const DevClusterOptions& options) {
    if (options.fjord_binary.empty()) return fail("no fjord binary to start");
    if (options.data_dir.empty()) return fail("no data directory given");
    if (options.nodes < 1 || options.nodes > kMaxNodes)
        return fail("node count " + std::to_string(options.nodes) + " is out of range (1.." +
                    std::to_string(kMaxNodes) + ")");
    if (options.base_port < 1 || options.base_port > kMaxPort)
        return fail("base port " + std::to_string(options.base_port) + " is out of range (1.." +
                    std::to_string(kMaxPort) + ")");
    long long last =
        static_cast<long long>(options.base_port) + kPortStride * (options.nodes - 1) + (kPortsPerNode - 1);
    if (last > kMaxPort)
        return fail("base port " + std::to_string(options.base_port) + " is too high for " +
                    std::to_string(options.nodes) + " nodes: the last port would be " + std::to_string(last) +
                    " (max " + std::to_string(kMaxPort) + ")");
    return Ok{};
}

Result<Ok, std::string> create_data_dirs(const DevClusterOptions& options) {
    for (int node = 1; node <= options.nodes; ++node) {
        std::string dir = node_dir(options, node);
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec) return fail("cannot create data directory " + dir + ": " + ec.message());
    }
    return Ok{};
}

std::string pad(std::string text, size_t width) {
    if (text.size() < width) text.resize(width, ' ');
    return text;
}

void print_endpoints(const DevClusterOptions& options) {
    constexpr size_t kColumn = 17;
    std::string out = "fjord dev-cluster: " + std::to_string(options.nodes) + " node(s), data under " +
                      options.data_dir + "\n";
    out += "  " + pad("node", 6) + pad("kafka", kColumn) + pad("rpc", kColumn) + pad("admin", kColumn) +
           "redis\n";
    for (int node = 1; node <= options.nodes; ++node) {
        Endpoints e = endpoints_of(options, node);
        out += "  " + pad(std::to_string(node), 6) + pad(local_addr(e.kafka), kColumn) +
               pad(local_addr(e.rpc), kColumn) + pad(local_addr(e.admin), kColumn) + local_addr(e.redis) +
               "\n";
    }
    out += "Cluster status: curl " + local_addr(endpoints_of(options, 1).admin) + "/cluster/status\n";
    out += "Press Ctrl-C to stop the cluster.\n";
    write_stdout(out);
}

std::vector<std::string> child_args(const DevClusterOptions& options, int node) {
    std::string initial_cluster;
    for (int peer = 1; peer <= options.nodes; ++peer) {
        if (peer > 1) initial_cluster += ',';
        initial_cluster += std::to_string(peer) + "=" + local_addr(endpoints_of(options, peer).rpc);
    }
    Endpoints e = endpoints_of(options, node);
    std::vector<std::string> args = {options.fjord_binary, "serve",
                                     "--node-id",          std::to_string(node),
                                     "--data-dir",         node_dir(options, node),
                                     "--kafka-addr",       local_addr(e.kafka),
                                     "--rpc-addr",         local_addr(e.rpc),
                                     "--admin-addr",       local_addr(e.admin),
                                     "--redis-addr",       local_addr(e.redis),
                                     "--initial-cluster",  initial_cluster};
    args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
    return args;
}

// ---- Signals: a self-pipe wakes the poll loop ----

std::atomic<int> g_signal_pipe{-1};
static_assert(std::atomic<int>::is_always_lock_free);

void on_signal(int sig) {
    int saved_errno = errno;
    int fd = g_signal_pipe.load(std::memory_order_relaxed);
    if (fd >= 0) {
        unsigned char byte = static_cast<unsigned char>(sig);
        ssize_t ignored = ::write(fd, &byte, 1);  // a full pipe already guarantees a wake-up
        (void)ignored;
    }
    errno = saved_errno;
}

constexpr std::array<int, 3> kHandledSignals = {SIGINT, SIGTERM, SIGCHLD};

sigset_t handled_signal_set() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kHandledSignals) sigaddset(&set, sig);
    return set;
}

// Routes SIGINT, SIGTERM and SIGCHLD into a pipe while alive; restores the old handlers after.
class SignalRelay {
  public:
    SignalRelay() = default;
    SignalRelay(const SignalRelay&) = delete;
    SignalRelay& operator=(const SignalRelay&) = delete;
    ~SignalRelay() {
        for (size_t i = 0; i < _installed; ++i) ::sigaction(kHandledSignals[i], &_previous[i], nullptr);
        g_signal_pipe.store(-1);
    }

    Result<Ok, std::string> install() {
        auto pipe = make_pipe("signal wake-ups", O_NONBLOCK);
        if (!pipe) return fail(pipe.error());
        _pipe = std::move(*pipe);
        g_signal_pipe.store(_pipe.write.get());
        struct sigaction action {};
        action.sa_handler = on_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART | SA_NOCLDSTOP;
        for (int sig : kHandledSignals) {
            if (::sigaction(sig, &action, &_previous[_installed]) != 0)
                return fail_errno("cannot install handler for signal " + std::to_string(sig));
            ++_installed;
        }
        return Ok{};
    }

    int fd() const { return _pipe.read.get(); }

    // Empties the pipe; returns how many SIGINT/SIGTERM it held (SIGCHLD only wakes us).
    int take_stop_requests() {
        int stops = 0;
        std::array<unsigned char, 64> bytes;
        for (;;) {
            ssize_t n = ::read(fd(), bytes.data(), bytes.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return stops;
            for (ssize_t i = 0; i < n; ++i)
                if (bytes[i] == SIGINT || bytes[i] == SIGTERM) ++stops;
        }
    }

  private:
    Pipe _pipe;
    std::array<struct sigaction, kHandledSignals.size()> _previous{};
    size_t _installed = 0;
};

// ---- Starting a child ----

// What the forked child sends back through a close-on-exec pipe when it cannot exec.
struct SetupFailure {
    enum Step : int { kDeathSignal, kRedirect, kExec } step;
    int error;
};

[[noreturn]] void fail_setup(int status_fd, SetupFailure::Step step, int error) {
    SetupFailure failure{step, error};
    ssize_t ignored = ::write(status_fd, &failure, sizeof failure);
    (void)ignored;
    ::_exit(kChildSetupFailed);
}

// Makes `from` the descriptor `to`, inherited across exec.
bool install_fd(int from, int to) {
    if (from == to) return ::fcntl(to, F_SETFD, 0) == 0;
    return ::dup2(from, to) == to;
}

struct ChildFds {
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    int status_fd;
};

// Runs between fork and exec: async-signal-safe calls only, no allocation.
[[noreturn]] void exec_child(char* const* argv, pid_t parent, const ChildFds& fds) {
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int sig : kHandledSignals) ::sigaction(sig, &default_action, nullptr);
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) fail_setup(fds.status_fd, SetupFailure::kDeathSignal, errno);
    if (::getppid() != parent) ::_exit(kChildSetupFailed);  // the supervisor died before prctl
    if (!install_fd(fds.stdin_fd, STDIN_FILENO) || !install_fd(fds.stdout_fd, STDOUT_FILENO) ||
        !install_fd(fds.stderr_fd, STDERR_FILENO))
        fail_setup(fds.status_fd, SetupFailure::kRedirect, errno);
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);  // leaked descriptors of the caller; ours are O_CLOEXEC
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv);
    fail_setup(fds.status_fd, SetupFailure::kExec, errno);
}

std::optional<SetupFailure> read_setup_failure(int status_fd) {
    SetupFailure failure{};
    for (;;) {
        ssize_t n = ::read(status_fd, &failure, sizeof failure);
        if (n < 0 && errno == EINTR) continue;
        if (n == static_cast<ssize_t>(sizeof failure)) return failure;
        return std::nullopt;  // EOF: exec succeeded
    }
}

std::string describe_setup_failure(const SetupFailure& failure, const std::string& binary) {
    switch (failure.step) {
        case SetupFailure::kDeathSignal:
            return "prctl(PR_SET_PDEATHSIG): " + errno_text(failure.error);
        case SetupFailure::kRedirect:
            return "redirecting stdin/stdout/stderr: " + errno_text(failure.error);
        case SetupFailure::kExec:
            break;
    }
    return "exec " + binary + ": " + errno_text(failure.error);
}

pid_t wait_blocking(pid_t pid, int* status) {
    pid_t r;
    do r = ::waitpid(pid, status, 0);
    while (r < 0 && errno == EINTR);
    return r;
}

struct OutputStream {
    UniqueFd fd;
    std::string partial;  // bytes after the last newline
};

struct Child {
    int node = 0;
    pid_t pid = -1;
    bool running = false;
    std::array<OutputStream, 2> streams;  // stdout, stderr
};

Result<Child, std::string> spawn_child(const DevClusterOptions& options, int node, int devnull) {
    std::string who = "node " + std::to_string(node);
    std::vector<std::string> args = child_args(options, node);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    auto out = make_pipe(who + " stdout");
    if (!out) return fail(out.error());
    auto err = make_pipe(who + " stderr");
    if (!err) return fail(err.error());
    auto status = make_pipe(who + " exec status");
    if (!status) return fail(status.error());

    // Blocked across fork so the child cannot run our handler before it resets it.
    sigset_t handled = handled_signal_set();
    sigset_t previous;
    ::pthread_sigmask(SIG_BLOCK, &handled, &previous);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0)
        exec_child(argv.data(), parent, {devnull, out->write.get(), err->write.get(), status->write.get()});
    int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (pid < 0) return fail("cannot fork " + who + ": " + errno_text(fork_errno));

    status->write.reset();
    if (auto failure = read_setup_failure(status->read.get())) {
        int ignored;
        wait_blocking(pid, &ignored);
        return fail("cannot start " + who + ": " + describe_setup_failure(*failure, options.fjord_binary));
    }
    Child child;
    child.node = node;
    child.pid = pid;
    child.running = true;
    child.streams[0].fd = std::move(out->read);
    child.streams[1].fd = std::move(err->read);
    for (OutputStream& stream : child.streams) ::fcntl(stream.fd.get(), F_SETFL, O_NONBLOCK);
    return child;
}

// ---- Forwarding output ----

void emit_line(int node, std::string_view line) {
    std::string out = "[node " + std::to_string(node) + "] ";
    out.append(line);
    out += '\n';
    write_stdout(out);
}

void take_output(int node, std::string& partial, std::string_view bytes) {
    partial.append(bytes);
    size_t start = 0;
    for (size_t newline; (newline = partial.find('\n', start)) != std::string::npos; start = newline + 1)
        emit_line(node, std::string_view(partial).substr(start, newline - start));
    partial.erase(0, start);
    while (partial.size() >= kMaxLineBytes) {
        emit_line(node, std::string_view(partial).substr(0, kMaxLineBytes));
        partial.erase(0, kMaxLineBytes);
    }
}

void close_stream(int node, OutputStream& stream) {
    if (!stream.partial.empty()) emit_line(node, stream.partial);
    stream.partial.clear();
    stream.fd.reset();
}

// Reads what the stream has: one chunk, or everything until it would block when `drain`.
void pump(int node, OutputStream& stream, bool drain) {
    std::array<char, kReadChunk> buffer;
    for (;;) {
        ssize_t n = ::read(stream.fd.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {  // EOF, or an error we cannot recover from
            close_stream(node, stream);
            return;
        }
        take_output(node, stream.partial, std::string_view(buffer.data(), static_cast<size_t>(n)));
        if (!drain) return;
    }
}

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char* name = ::sigabbrev_np(sig);
        return "was killed by signal " + std::to_string(sig) +
               (name ? std::string(" (SIG") + name + ")" : "");
    }
    return "ended with wait status " + std::to_string(status);
}

// ---- The supervisor loop ----

class Supervisor {
  public:
    explicit Supervisor(SignalRelay& signals) : _signals(signals) {}

    void add(Child child) { _children.push_back(std::move(child)); }

    // SIGTERM to every live child; SIGKILL to stragglers after the grace period.
    void request_stop() {
        _stop_requested = true;
        _kill_deadline = Clock::now() + kStopGrace;
        int signalled = 0;
        for (Child& child : _children)
            if (child.running && ::kill(child.pid, SIGTERM) == 0) ++signalled;
        if (signalled > 0)
            note("stopping: sent SIGTERM to " + std::to_string(signalled) + " node(s), SIGKILL in " +
                 std::to_string(kStopGrace.count()) + " s");
    }

    // Returns 0 if a stop was requested, 1 if every child exited on its own or polling failed.
    int run() {
        for (;;) {
            reap();
            if (live_children() == 0) return _stop_requested ? 0 : 1;
            if (_kill_deadline && !_killed && Clock::now() >= *_kill_deadline)
                kill_stragglers("did not stop within " + std::to_string(kStopGrace.count()) + " s");
            if (!wait_and_forward()) {
                kill_stragglers("is being killed because the supervisor failed");
                reap_blocking();
                return 1;
            }
        }
    }

  private:
    size_t live_children() const {
        size_t live = 0;
        for (const Child& child : _children) live += child.running ? 1 : 0;
        return live;
    }

    void kill_stragglers(const std::string& reason) {
        _killed = true;
        for (Child& child : _children) {
            if (!child.running) continue;
            note("node " + std::to_string(child.node) + " " + reason + ", sending SIGKILL");
            ::kill(child.pid, SIGKILL);
        }
    }

    void on_exit(Child& child, int status) {
        child.running = false;
        for (OutputStream& stream : child.streams) {
            if (!stream.fd) continue;
            pump(child.node, stream, /*drain=*/true);  // all it wrote is in the pipe by now
            close_stream(child.node, stream);          // a grandchild may hold the pipe open
        }
        note("node " + std::to_string(child.node) + " " + describe_exit(status));
    }

    void reap() {
        for (Child& child : _children) {
            if (!child.running) continue;
            int status = 0;
            pid_t r = ::waitpid(child.pid, &status, WNOHANG);
            if (r == child.pid) {
                on_exit(child, status);
            } else if (r < 0 && errno != EINTR) {
                child.running = false;
                note("node " + std::to_string(child.node) +
                     " can no longer be waited for: " + errno_text(errno));
            }
        }
    }

    void reap_blocking() {
        for (Child& child : _children) {
            int status = 0;
            if (child.running && wait_blocking(child.pid, &status) == child.pid) on_exit(child, status);
            child.running = false;
        }
    }

    int poll_timeout_ms() const {
        if (!_kill_deadline || _killed) return -1;
        auto left = std::chrono::ceil<std::chrono::milliseconds>(*_kill_deadline - Clock::now());
        return left.count() < 0 ? 0 : static_cast<int>(left.count());
    }

    // One poll(): forwards child output and acts on signals. False if poll itself failed.
    bool wait_and_forward() {
        std::vector<pollfd> fds = {{_signals.fd(), POLLIN, 0}};
        std::vector<std::pair<Child*, OutputStream*>> owners;
        for (Child& child : _children) {
            for (OutputStream& stream : child.streams) {
                if (!stream.fd) continue;
                fds.push_back({stream.fd.get(), POLLIN, 0});
                owners.emplace_back(&child, &stream);
            }
        }
        if (::poll(fds.data(), fds.size(), poll_timeout_ms()) < 0) {
            if (errno == EINTR) return true;
            report_error("poll failed: " + errno_text(errno));
            return false;
        }
        // Later signals change nothing: tools like timeout(1) signal both us and our process group.
        if (fds[0].revents != 0 && _signals.take_stop_requests() > 0 && !_stop_requested) request_stop();
        for (size_t i = 1; i < fds.size(); ++i)
            if (fds[i].revents != 0) pump(owners[i - 1].first->node, *owners[i - 1].second, /*drain=*/false);
        return true;
    }

    SignalRelay& _signals;
    std::vector<Child> _children;
    bool _stop_requested = false;
    bool _killed = false;
    std::optional<Clock::time_point> _kill_deadline;
};

}  // namespace

int run_dev_cluster(const DevClusterOptions& options) {
    if (auto valid = validate(options); !valid) {
        report_error(valid.error());
        return 2;
    }
    if (auto dirs = create_data_dirs(options); !dirs) {
        report_error(dirs.error());
        return 1;
    }
    SignalRelay signals;
    if (auto installed = signals.install(); !installed) {
        report_error(installed.error());
        return 1;
    }
    UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!devnull) {
        report_error("cannot open /dev/null: " + errno_text(errno));
        return 1;
    }

    print_endpoints(options);
    Supervisor supervisor(signals);
    for (int node = 1; node <= options.nodes; ++node) {
        auto child = spawn_child(options, node, devnull.get());
        if (!child) {
            report_error(child.error());
            supervisor.request_stop();
            supervisor.run();
            return 1;
        }
        supervisor.add(std::move(*child));
    }
    return supervisor.run();
}

}  // namespace fjord::app
