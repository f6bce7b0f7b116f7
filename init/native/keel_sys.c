// keel_sys: the handful of Linux syscalls PID 1 needs and Node does not expose.
// Every function is small and throws a JS Error carrying `code` (the errno
// name, e.g. "EBUSY"), `errno` and `syscall` on failure. All are synchronous
// but finitModules, which loads kernel modules on a thread of libuv's pool
// and settles a promise, so boot goes on while the kernel links them.
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <termios.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <net/if.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/close_range.h>

#define MAX_STR 4096

static napi_value errno_error(napi_env env, const char *syscall_name, const char *arg, int err) {
  char msg[MAX_STR + 128];
  const char *name = strerrorname_np(err);
  snprintf(msg, sizeof msg, "%s(%s): %s", syscall_name, arg ? arg : "", strerror(err));
  napi_value code, message, error, errno_value, syscall_value;
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errno_value);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  return error;
}

static napi_value throw_errno(napi_env env, const char *syscall_name, const char *arg, int err) {
  napi_throw(env, errno_error(env, syscall_name, arg, err));
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < want) {
    napi_throw_type_error(env, NULL, "keel_sys: too few arguments");
    return -1;
  }
  return 0;
}

// Copies a JS string into buf; null/undefined give *present = 0.
static int get_str(napi_env env, napi_value v, char *buf, size_t len, int *present) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) {
    if (present) *present = 0;
    buf[0] = 0;
    return 0;
  }
  if (present) *present = 1;
  size_t copied;
  if (napi_get_value_string_utf8(env, v, buf, len, &copied) != napi_ok) {
    napi_throw_type_error(env, NULL, "keel_sys: expected a string");
    return -1;
  }
  if (copied >= len - 1) {
    napi_throw_range_error(env, NULL, "keel_sys: string too long");
    return -1;
  }
  return 0;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "keel_sys: expected a number");
    return -1;
  }
  return 0;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// mount(source|null, target, fstype|null, flags, data|null)
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  char src[MAX_STR], target[MAX_STR], fstype[256], data[MAX_STR];
  int has_src, has_fs, has_data;
  int64_t flags;
  if (get_args(env, info, 5, argv)) return NULL;
  if (get_str(env, argv[0], src, sizeof src, &has_src) || get_str(env, argv[1], target, sizeof target, NULL) ||
      get_str(env, argv[2], fstype, sizeof fstype, &has_fs) || get_i64(env, argv[3], &flags) ||
      get_str(env, argv[4], data, sizeof data, &has_data))
    return NULL;
  if (mount(has_src ? src : NULL, target, has_fs ? fstype : NULL, (unsigned long)flags, has_data ? data : NULL) != 0)
    return throw_errno(env, "mount", target, errno);
  return undefined(env);
}

static napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char target[MAX_STR];
  int64_t flags;
  if (get_args(env, info, 2, argv) || get_str(env, argv[0], target, sizeof target, NULL) || get_i64(env, argv[1], &flags))
    return NULL;
  if (umount2(target, (int)flags) != 0) return throw_errno(env, "umount2", target, errno);
  return undefined(env);
}

static napi_value js_reboot(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t cmd;
  if (get_args(env, info, 1, argv) || get_i64(env, argv[0], &cmd)) return NULL;
  if (reboot((int)cmd) != 0) return throw_errno(env, "reboot", NULL, errno);
  return undefined(env);
}

static napi_value js_sethostname(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[256];
  if (get_args(env, info, 1, argv) || get_str(env, argv[0], name, sizeof name, NULL)) return NULL;
  if (sethostname(name, strlen(name)) != 0) return throw_errno(env, "sethostname", name, errno);
  return undefined(env);
}

static napi_value js_set_child_subreaper(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) return throw_errno(env, "prctl", "PR_SET_CHILD_SUBREAPER", errno);
  return undefined(env);
}

// Transparent huge pages. A stock kernel backs any 2 MiB-aligned stretch of
// anonymous memory a process touches with a huge page ("always"), and V8's
// heap reservations are such stretches: an idle keel-init held one or two
// 2 MiB pages it barely used. keel-init opts out for itself
// (PR_SET_THP_DISABLE), but the kernel copies that flag into every child at
// fork and keeps it across execve, and a container must get the machine's
// own policy: so the flag is lifted across each fork keel makes and set again
// once the child has its own memory (childHugePages).
static int thp_opted_out = 0;

// disableHugePages(): keel's own memory gets no transparent huge pages.
static napi_value js_disable_huge_pages(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) return throw_errno(env, "prctl", "PR_SET_THP_DISABLE", errno);
  thp_opted_out = 1;
  return undefined(env);
}

// Lifts keel's opt-out (begin = 1) for a fork about to happen, or sets it again (begin = 0).
static void child_huge_pages(int begin) {
  if (thp_opted_out) prctl(PR_SET_THP_DISABLE, begin ? 0 : 1, 0, 0, 0);
}

// childHugePages(begin): the same, around a fork made elsewhere (child_process, node-pty).
static napi_value js_child_huge_pages(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool begin = false;
  if (get_args(env, info, 1, argv)) return NULL;
  napi_get_value_bool(env, argv[0], &begin);
  child_huge_pages(begin);
  return undefined(env);
}

static void set_int(napi_env env, napi_value obj, const char *key, int v) {
  napi_value n;
  napi_create_int32(env, v, &n);
  napi_set_named_property(env, obj, key, n);
}

// waitpid(pid, WNOHANG|__WALL) for one pid. Returns undefined when the pid has
// not exited yet, else {pid, code, signal} with code or signal set to -1 when
// it does not apply. ECHILD is returned as {pid, gone: 1} so the caller can
// forget the pid without an exception on a hot path.
static napi_value js_reap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t pid;
  if (get_args(env, info, 1, argv) || get_i64(env, argv[0], &pid)) return NULL;
  int status = 0;
  pid_t r;
  do {
    r = waitpid((pid_t)pid, &status, WNOHANG | __WALL);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return undefined(env);
  napi_value obj;
  napi_create_object(env, &obj);
  if (r < 0) {
    if (errno != ECHILD) return throw_errno(env, "waitpid", NULL, errno);
    set_int(env, obj, "pid", (int)pid);
    set_int(env, obj, "gone", 1);
    return obj;
  }
  set_int(env, obj, "pid", r);
  set_int(env, obj, "code", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  set_int(env, obj, "signal", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
  return obj;
}

// peekExited(): the pid of some exited child, without reaping it
// (waitid WNOWAIT), or 0 when none has exited.
static napi_value js_peek_exited(napi_env env, napi_callback_info info) {
  (void)info;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int r;
  do {
    r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL);
  } while (r < 0 && errno == EINTR);
  napi_value n;
  if (r < 0) {
    if (errno != ECHILD) return throw_errno(env, "waitid", NULL, errno);
    napi_create_int32(env, 0, &n);
    return n;
  }
  napi_create_int32(env, si.si_pid, &n);
  return n;
}

static napi_value js_chroot(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[MAX_STR];
  if (get_args(env, info, 1, argv) || get_str(env, argv[0], path, sizeof path, NULL)) return NULL;
  if (chroot(path) != 0) return throw_errno(env, "chroot", path, errno);
  return undefined(env);
}

// lockDirectory(path): flock(LOCK_EX|LOCK_NB) on the directory itself, held
// until keel-init exits: true when taken, false when another open file holds
// it. The descriptor is close-on-exec and never closed, so the kernel drops
// the lock when this process ends, however it ends (docs/architecture.md,
// "One keel per state directory").
static int locked_dir_fd = -1;

static napi_value js_lock_directory(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char path[MAX_STR];
  if (get_args(env, info, 1, argv) || get_str(env, argv[0], path, sizeof path, NULL)) return NULL;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open", path, errno);
  int r;
  while ((r = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
  }
  if (r != 0) {
    int err = errno;
    close(fd);
    if (err != EWOULDBLOCK) return throw_errno(env, "flock", path, err);
    napi_get_boolean(env, false, &result);
    return result;
  }
  locked_dir_fd = fd; // kept, never closed: closing it would release the lock
  napi_get_boolean(env, true, &result);
  return result;
}

// Reads a JS array of strings into a NULL-terminated, malloc'd vector.
static char **get_str_array(napi_env env, napi_value arr) {
  uint32_t n;
  if (napi_get_array_length(env, arr, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "keel_sys: expected an array of strings");
    return NULL;
  }
  char **v = calloc(n + 1, sizeof(char *));
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    size_t len;
    napi_get_element(env, arr, i, &item);
    if (napi_get_value_string_utf8(env, item, NULL, 0, &len) != napi_ok) {
      napi_throw_type_error(env, NULL, "keel_sys: expected an array of strings");
      return NULL;
    }
    v[i] = malloc(len + 1);
    napi_get_value_string_utf8(env, item, v[i], len + 1, &len);
  }
  return v;
}

// execve(path, argv, env): replaces the process image; returns only on error.
static napi_value js_execve(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[MAX_STR];
  if (get_args(env, info, 3, argv) || get_str(env, argv[0], path, sizeof path, NULL)) return NULL;
  char **args = get_str_array(env, argv[1]);
  if (!args) return NULL;
  char **envp = get_str_array(env, argv[2]);
  if (!envp) return NULL;
  // The new image must inherit the console as stdio: clear close-on-exec,
  // which Node may have set on fds 0-2.
  for (int fd = 0; fd <= 2; fd++) {
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
  execve(path, args, envp);
  return throw_errno(env, "execve", path, errno);
}

static napi_value js_sync(napi_env env, napi_callback_info info) {
  (void)info;
  sync();
  return undefined(env);
}

// setrlimit(resource, soft, hard); -1 means RLIM_INFINITY.
static napi_value js_setrlimit(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t res, soft, hard;
  if (get_args(env, info, 3, argv) || get_i64(env, argv[0], &res) || get_i64(env, argv[1], &soft) ||
      get_i64(env, argv[2], &hard))
    return NULL;
  struct rlimit rl = {soft < 0 ? RLIM_INFINITY : (rlim_t)soft, hard < 0 ? RLIM_INFINITY : (rlim_t)hard};
  if (setrlimit((int)res, &rl) != 0) return throw_errno(env, "setrlimit", NULL, errno);
  return undefined(env);
}

// finitModules(paths): opens and loads each module in order on a pool
// thread; resolves with one entry per path: {ms} or {ms, error}.
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  uint32_t n;
  char **paths;
  int *errs;
  const char **calls;
  double *ms;
} modules_job;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void modules_execute(napi_env env, void *data) {
  (void)env;
  modules_job *j = data;
  for (uint32_t i = 0; i < j->n; i++) {
    double t0 = now_ms();
    int fd = open(j->paths[i], O_RDONLY | O_CLOEXEC);
    j->calls[i] = "open";
    j->errs[i] = fd < 0 ? errno : 0;
    if (fd >= 0) {
      j->calls[i] = "finit_module";
      if (syscall(SYS_finit_module, fd, "", 0) != 0) j->errs[i] = errno;
      close(fd);
    }
    j->ms[i] = now_ms() - t0;
  }
}

static void modules_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  modules_job *j = data;
  napi_value out;
  napi_create_array_with_length(env, j->n, &out);
  for (uint32_t i = 0; i < j->n; i++) {
    napi_value item, ms;
    napi_create_object(env, &item);
    napi_create_double(env, j->ms[i], &ms);
    napi_set_named_property(env, item, "ms", ms);
    if (j->errs[i]) napi_set_named_property(env, item, "error", errno_error(env, j->calls[i], j->paths[i], j->errs[i]));
    napi_set_element(env, out, i, item);
    free(j->paths[i]);
  }
  napi_resolve_deferred(env, j->deferred, out);
  napi_delete_async_work(env, j->work);
  free(j->paths);
  free(j->errs);
  free(j->calls);
  free(j->ms);
  free(j);
}

static napi_value js_finit_modules(napi_env env, napi_callback_info info) {
  napi_value argv[1], promise, name;
  if (get_args(env, info, 1, argv)) return NULL;
  char **paths = get_str_array(env, argv[0]);
  if (!paths) return NULL;
  modules_job *j = calloc(1, sizeof *j);
  while (paths[j->n]) j->n++;
  j->paths = paths;
  j->errs = calloc(j->n + 1, sizeof *j->errs);
  j->calls = calloc(j->n + 1, sizeof *j->calls);
  j->ms = calloc(j->n + 1, sizeof *j->ms);
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "keel_sys.finitModules", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, modules_execute, modules_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

// interfaceUp(name): sets IFF_UP on a network interface (SIOCSIFFLAGS).
static napi_value js_interface_up(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[IFNAMSIZ + 1];
  if (get_args(env, info, 1, argv) || get_str(env, argv[0], name, sizeof name, NULL)) return NULL;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return throw_errno(env, "socket", name, errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
    int err = errno;
    close(s);
    return throw_errno(env, "ioctl(SIOCGIFFLAGS)", name, err);
  }
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
    int err = errno;
    close(s);
    return throw_errno(env, "ioctl(SIOCSIFFLAGS)", name, err);
  }
  close(s);
  return undefined(env);
}

// ---- sd_notify sockets -------------------------------------------------
// One AF_UNIX datagram socket per service that asks for notify; one thread
// waits on all of them with epoll and hands each datagram to JavaScript
// through a thread-safe function. Node has no unix datagram sockets.
//
// Bounded: the thread-safe function's queue holds at most NOTIFY_QUEUED
// messages, and the thread waits while it is full, so a service that floods
// its socket fills the kernel's socket buffer (and then blocks or gets
// EAGAIN) instead of keel-init's heap. The thread reads one datagram from
// a socket before the others' turn (NOTIFY_TURN), so a flood does not hold
// back the rest: with a turn of 8, 200 services in a loop held a quiet
// service's WATCHDOG=1 back 1.6 s at the pace below, and its 1 s watchdog
// restarted it again and again; with 1, its wait is a datagram of each.
//
// Paced: at most NOTIFY_PER_SECOND datagrams a second are read, from all
// sockets together; past that the thread sleeps and the datagrams wait in
// their sockets (their senders block, as for any full datagram socket).
// Unpaced, four services sending STATUS= in a loop kept keel-init's main
// thread busy all the time (about 170,000 datagrams a second on the test
// host, 6 us each); a thousand is far more than READY=, STATUS= and
// watchdog pings need, and on the host about 1 % of a core.
#define MAX_NOTIFY 1024
#define NOTIFY_QUEUED 256
#define NOTIFY_TURN 1
#define NOTIFY_PER_SECOND 1000.0

static double notify_tokens = NOTIFY_PER_SECOND;
static double notify_refilled_at = -1;

static double monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Takes one datagram's turn from the bucket, sleeping until there is one.
static void notify_pace(void) {
  for (;;) {
    double now = monotonic_seconds();
    if (notify_refilled_at >= 0) {
      notify_tokens += (now - notify_refilled_at) * NOTIFY_PER_SECOND;
      if (notify_tokens > NOTIFY_PER_SECOND) notify_tokens = NOTIFY_PER_SECOND;
    }
    notify_refilled_at = now;
    if (notify_tokens >= 1) {
      notify_tokens -= 1;
      return;
    }
    double wait = (1 - notify_tokens) / NOTIFY_PER_SECOND;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(wait * 1e9) + 1};
    nanosleep(&ts, NULL);
  }
}
typedef struct {
  int id;
  size_t len;
  char buf[];
} notify_msg_t;

static int notify_epoll = -1;
static int notify_fds[MAX_NOTIFY];
static pthread_t notify_thread;
static napi_threadsafe_function notify_tsfn;
static int notify_started = 0;
// Held around a socket's read and its close: without it, a close (and another open
// taking the same fd number) between the thread's look-up and its recv would read
// some other descriptor. Never held while waiting on the queue, which the closing
// JavaScript thread drains.
static pthread_mutex_t notify_lock = PTHREAD_MUTEX_INITIALIZER;

static void notify_call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  notify_msg_t *m = data;
  if (env != NULL && js_cb != NULL) {
    napi_value argv[2], undef;
    napi_create_int32(env, m->id, &argv[0]);
    napi_create_string_utf8(env, m->buf, m->len, &argv[1]);
    napi_get_undefined(env, &undef);
    napi_call_function(env, undef, js_cb, 2, argv, NULL);
  }
  free(m);
}

static void *notify_loop(void *arg) {
  (void)arg;
  struct epoll_event evs[16];
  char buf[4096];
  for (;;) {
    int n = epoll_wait(notify_epoll, evs, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; i++) {
      int id = (int)evs[i].data.u32;
      if (id < 0 || id >= MAX_NOTIFY || notify_fds[id] < 0) continue;
      for (int turn = 0; turn < NOTIFY_TURN; turn++) {
        // Before the read: a datagram not yet allowed stays in the kernel, not in keel-init.
        notify_pace();
        pthread_mutex_lock(&notify_lock);
        ssize_t r = notify_fds[id] < 0 ? -1 : recv(notify_fds[id], buf, sizeof buf, MSG_DONTWAIT);
        pthread_mutex_unlock(&notify_lock);
        if (r < 0) {
          notify_tokens += 1; // nothing was read: the turn is given back
          break;
        }
        notify_msg_t *m = malloc(sizeof *m + (size_t)r + 1);
        if (m == NULL) continue; // the datagram is dropped; the service may send it again
        m->id = id;
        m->len = (size_t)r;
        memcpy(m->buf, buf, (size_t)r);
        m->buf[r] = 0;
        if (napi_call_threadsafe_function(notify_tsfn, m, napi_tsfn_blocking) != napi_ok) {
          free(m);
          return NULL; // closing: node is ending
        }
      }
    }
  }
  return NULL;
}

// notifyStart(callback(id, message)): starts the receiving thread once.
static napi_value js_notify_start(napi_env env, napi_callback_info info) {
  napi_value argv[1], name;
  if (get_args(env, info, 1, argv)) return NULL;
  if (notify_started) return undefined(env);
  for (int i = 0; i < MAX_NOTIFY; i++) notify_fds[i] = -1;
  notify_epoll = epoll_create1(EPOLL_CLOEXEC);
  if (notify_epoll < 0) return throw_errno(env, "epoll_create1", NULL, errno);
  napi_create_string_utf8(env, "keel-notify", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[0], NULL, name, NOTIFY_QUEUED, 1, NULL, NULL, NULL, notify_call_js, &notify_tsfn) != napi_ok) {
    napi_throw_error(env, NULL, "keel_sys: cannot create the notify callback");
    return NULL;
  }
  // The thread must not keep a process that is otherwise done alive (tests, tools).
  napi_unref_threadsafe_function(env, notify_tsfn);
  if (pthread_create(&notify_thread, NULL, notify_loop, NULL) != 0) return throw_errno(env, "pthread_create", NULL, errno);
  pthread_detach(notify_thread);
  notify_started = 1;
  return undefined(env);
}

// notifyOpen(path): binds a datagram socket at path (mode 0666; its directory guards it). Returns its id.
static napi_value js_notify_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  if (get_args(env, info, 1, argv) || get_str(env, argv[0], path, sizeof path, NULL)) return NULL;
  if (!notify_started) {
    napi_throw_error(env, NULL, "keel_sys: notifyStart first");
    return NULL;
  }
  int id = -1;
  for (int i = 0; i < MAX_NOTIFY; i++)
    if (notify_fds[i] < 0) {
      id = i;
      break;
    }
  if (id < 0) return throw_errno(env, "notifyOpen", path, EMFILE);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return throw_errno(env, "socket", path, errno);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  unlink(path);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", path, err);
  }
  chmod(path, 0666);
  pthread_mutex_lock(&notify_lock);
  notify_fds[id] = fd;
  pthread_mutex_unlock(&notify_lock);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)id};
  if (epoll_ctl(notify_epoll, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int err = errno;
    pthread_mutex_lock(&notify_lock);
    notify_fds[id] = -1;
    pthread_mutex_unlock(&notify_lock);
    close(fd);
    return throw_errno(env, "epoll_ctl", path, err);
  }
  napi_value r;
  napi_create_int32(env, id, &r);
  return r;
}

static napi_value js_notify_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t id;
  if (get_args(env, info, 1, argv) || get_i64(env, argv[0], &id)) return NULL;
  if (id < 0 || id >= MAX_NOTIFY) return undefined(env);
  pthread_mutex_lock(&notify_lock);
  int fd = notify_fds[id];
  if (fd >= 0) {
    epoll_ctl(notify_epoll, EPOLL_CTL_DEL, fd, NULL);
    notify_fds[id] = -1;
    close(fd);
  }
  pthread_mutex_unlock(&notify_lock);
  return undefined(env);
}

// ---- process entries ---------------------------------------------------
// pipe(): a pipe whose two ends are close-on-exec, as [read, write].
static napi_value js_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return throw_errno(env, "pipe2", NULL, errno);
  // 256 KiB rather than the default 64: about what the socketpairs child_process gave a container's output, so a
  // writer blocks no sooner when keel's event loop is busy. Pages are taken only as it fills; a refusal keeps 64.
  fcntl(fds[1], F_SETPIPE_SZ, 256 * 1024);
  napi_value arr, a, b;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, fds[0], &a);
  napi_create_int32(env, fds[1], &b);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

// dupNonBlocking(fd): keel's own close-on-exec duplicate of fd (F_DUPFD_CLOEXEC), numbered 3 or above so
// it never takes a stdio slot, and non-blocking. The console writes a pty's input through one
// (init/console/pty-input.ts) with write(2) on the event loop's thread: its writes cannot land on a number
// node-pty has closed and the kernel has handed out again, and a full terminal makes them fail with EAGAIN
// rather than stop PID 1. O_NONBLOCK belongs to the open file, which node-pty's fd shares; libuv has set it
// there already, and setting it again changes nothing for node-pty.
static napi_value js_dup_non_blocking(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int64_t fd;
  if (get_args(env, info, 1, argv) || get_i64(env, argv[0], &fd)) return NULL;
  int r = fcntl((int)fd, F_DUPFD_CLOEXEC, 3);
  if (r < 0) return throw_errno(env, "fcntl", "F_DUPFD_CLOEXEC", errno);
  int flags = fcntl(r, F_GETFL);
  if (flags < 0 || fcntl(r, F_SETFL, flags | O_NONBLOCK) < 0) {
    int err = errno;
    close(r);
    return throw_errno(env, "fcntl", "F_SETFL O_NONBLOCK", err);
  }
  napi_create_int32(env, r, &result);
  return result;
}

static int prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  if (napi_get_named_property(env, obj, key, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "keel_sys: spawnProcess: bad options");
    return -1;
  }
  return 0;
}

static int prop_i64(napi_env env, napi_value obj, const char *key, int64_t *out) {
  napi_value v;
  return prop(env, obj, key, &v) || get_i64(env, v, out);
}

#define MAX_GROUPS 256
#define MAX_RLIMITS 16

// What the child needs, read from JavaScript before the fork: after it the
// child may only make async-signal-safe calls (no malloc, no N-API).
typedef struct {
  char path[MAX_STR], cwd[MAX_STR];
  char **argv, **envp;
  // envp is the C library's environ (keel's own environment), not a copy: never freed.
  int env_inherited;
  int change_user;
  uid_t uid;
  gid_t gid;
  int ngroups;
  gid_t groups[MAX_GROUPS];
  int nrlimits;
  int rl_res[MAX_RLIMITS];
  struct rlimit rl[MAX_RLIMITS];
  int no_new_privs, foreground, cgroup_fd, has_oom;
  int stdio[3];
  char oom[16];
} spawn_opts_t;

static void free_strv(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

static int read_spawn_opts(napi_env env, napi_value o, spawn_opts_t *s) {
  napi_value v, item;
  int64_t n;
  uint32_t len;
  memset(s, 0, sizeof *s);
  if (prop(env, o, "path", &v) || get_str(env, v, s->path, sizeof s->path, NULL)) return -1;
  if (prop(env, o, "cwd", &v) || get_str(env, v, s->cwd, sizeof s->cwd, NULL)) return -1;
  if (prop(env, o, "argv", &v) || !(s->argv = get_str_array(env, v))) return -1;
  if (prop(env, o, "env", &v)) return -1;
  napi_valuetype env_type;
  if (napi_typeof(env, v, &env_type) != napi_ok) return -1;
  if (env_type == napi_null) {
    // Node writes process.env through to environ (setenv), so it is current; the vfork'd child only reads it.
    s->envp = environ;
    s->env_inherited = 1;
  } else if (!(s->envp = get_str_array(env, v))) {
    return -1;
  }
  if (prop_i64(env, o, "changeUser", &n)) return -1;
  s->change_user = (int)n;
  if (prop_i64(env, o, "uid", &n)) return -1;
  s->uid = (uid_t)n;
  if (prop_i64(env, o, "gid", &n)) return -1;
  s->gid = (gid_t)n;
  if (prop(env, o, "groups", &v) || napi_get_array_length(env, v, &len) != napi_ok || len > MAX_GROUPS) goto bad;
  s->ngroups = (int)len;
  for (uint32_t i = 0; i < len; i++) {
    if (napi_get_element(env, v, i, &item) != napi_ok || get_i64(env, item, &n)) return -1;
    s->groups[i] = (gid_t)n;
  }
  // rlimits: a flat list [resource, soft, hard, ...]; -1 is RLIM_INFINITY.
  if (prop(env, o, "rlimits", &v) || napi_get_array_length(env, v, &len) != napi_ok || len % 3 || len / 3 > MAX_RLIMITS) goto bad;
  s->nrlimits = (int)(len / 3);
  for (uint32_t i = 0; i < len; i++) {
    if (napi_get_element(env, v, i, &item) != napi_ok || get_i64(env, item, &n)) return -1;
    rlim_t r = n < 0 ? RLIM_INFINITY : (rlim_t)n;
    if (i % 3 == 0) s->rl_res[i / 3] = (int)n;
    else if (i % 3 == 1) s->rl[i / 3].rlim_cur = r;
    else s->rl[i / 3].rlim_max = r;
  }
  if (prop(env, o, "stdio", &v) || napi_get_array_length(env, v, &len) != napi_ok || len != 3) goto bad;
  for (uint32_t i = 0; i < 3; i++) {
    if (napi_get_element(env, v, i, &item) != napi_ok || get_i64(env, item, &n)) return -1;
    s->stdio[i] = (int)n;
  }
  if (prop_i64(env, o, "noNewPrivs", &n)) return -1;
  s->no_new_privs = (int)n;
  if (prop_i64(env, o, "foreground", &n)) return -1;
  s->foreground = (int)n;
  if (prop_i64(env, o, "cgroupFd", &n)) return -1;
  s->cgroup_fd = (int)n;
  if (prop(env, o, "oomScoreAdj", &v)) return -1;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_number) {
    if (get_i64(env, v, &n)) return -1;
    s->has_oom = 1;
    snprintf(s->oom, sizeof s->oom, "%d", (int)n);
  }
  return 0;
bad:
  napi_throw_type_error(env, NULL, "keel_sys: spawnProcess: bad options");
  return -1;
}

// What the child tells the parent when a step before execve fails.
typedef struct {
  int step;
  int err;
} spawn_failure_t;

static const char *const STEPS[] = {"sigaction", "setsid", "setpgid", "tcsetpgrp", "cgroup.procs", "oom_score_adj", "setrlimit", "setgroups", "setgid", "setuid", "prctl(PR_SET_NO_NEW_PRIVS)", "chdir", "dup", "execve"};
enum { S_SIG, S_SETSID, S_SETPGID, S_TCSETPGRP, S_CGROUP, S_OOM, S_RLIMIT, S_SETGROUPS, S_SETGID, S_SETUID, S_NNP, S_CHDIR, S_DUP, S_EXEC };

static void __attribute__((noreturn)) child_fail(int fd, int step) {
  spawn_failure_t f = {step, errno};
  ssize_t w = write(fd, &f, sizeof f);
  (void)w;
  _exit(127);
}

// A pipe keel passes on from its own parent (its stdout as a container's init: the engine's FIFO) is
// non-blocking, because node made it so for itself; O_NONBLOCK belongs to the open file description,
// which the child would share, and a program's writes then fail (EAGAIN, "I/O error") whenever the
// reader is slower. Such a pipe is opened again through /proc/self/fd, which makes a description of
// the child's own, and that one is made blocking. Anything else, or any failure, keeps `fd` as it is.
// Returns the fd the child is to use (close-on-exec; dup'd into place later).
static int own_blocking_fifo(int fd) {
  struct stat st;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || !(fl & O_NONBLOCK) || fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return fd;
  char path[32] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  for (unsigned v = (unsigned)fd; n == 0 || v > 0; v /= 10) digits[n++] = (char)('0' + v % 10);
  size_t at = strlen(path);
  while (n > 0) path[at++] = digits[--n];
  path[at] = 0;
  // Opened non-blocking, so a write end whose reader is gone fails (ENXIO) instead of waiting for one.
  int own = open(path, (fl & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
  if (own < 0) return fd;
  int ofl = fcntl(own, F_GETFL);
  if (ofl < 0 || fcntl(own, F_SETFL, ofl & ~O_NONBLOCK) != 0) {
    close(own);
    return fd;
  }
  return own;
}

// The child between clone and execve: async-signal-safe calls only.
static void __attribute__((noreturn)) spawn_child(const spawn_opts_t *s, int errfd) {
  // Node ignores SIGPIPE and handles others; a child starts with every disposition at its default.
  // The raw call: glibc's sigaction refuses the two signals it keeps for itself (32 and 33), which
  // an ignoring parent would otherwise pass on.
  struct {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
  } dfl = {SIG_DFL, 0, NULL, 0};
  for (int sig = 1; sig < NSIG; sig++) syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
  if (s->foreground) {
    // Its own process group, the terminal's foreground one (SIGTTOU is still blocked here).
    if (setpgid(0, 0) != 0) child_fail(errfd, S_SETPGID);
    if (tcsetpgrp(0, getpid()) != 0) child_fail(errfd, S_TCSETPGRP);
  } else if (setsid() < 0) child_fail(errfd, S_SETSID);
  if (s->cgroup_fd >= 0 && write(s->cgroup_fd, "0", 1) != 1) child_fail(errfd, S_CGROUP);
  if (s->has_oom) {
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, s->oom, strlen(s->oom)) < 0) child_fail(errfd, S_OOM);
    close(fd);
  }
  for (int i = 0; i < s->nrlimits; i++)
    if (setrlimit(s->rl_res[i], &s->rl[i]) != 0) child_fail(errfd, S_RLIMIT);
  // Before the user changes: the pipe is keel's user's to open. (Local: the memory is keel's, shared.)
  int stdio[3];
  for (int i = 0; i < 3; i++) stdio[i] = own_blocking_fifo(s->stdio[i]);
  // Raw system calls: glibc's setuid, setgid and setgroups would make every thread of the process change
  // too, and this child shares the memory (and so the thread list) of keel's.
  if (s->change_user) {
    if (syscall(SYS_setgroups, (size_t)s->ngroups, s->groups) != 0) child_fail(errfd, S_SETGROUPS);
    if (syscall(SYS_setgid, s->gid) != 0) child_fail(errfd, S_SETGID);
    if (syscall(SYS_setuid, s->uid) != 0) child_fail(errfd, S_SETUID);
  }
  if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(errfd, S_NNP);
  if (chdir(s->cwd) != 0) child_fail(errfd, S_CHDIR);
  // Each source is copied above 2 first, so one that is itself 0, 1 or 2 cannot be overwritten before it is used.
  int high[3];
  for (int i = 0; i < 3; i++)
    if ((high[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3)) < 0) child_fail(errfd, S_DUP);
  for (int i = 0; i < 3; i++)
    if (dup2(high[i], i) < 0) child_fail(errfd, S_DUP);
  // Nothing else of keel's crosses the exec (Node opens most fds close-on-exec, but not all it inherited).
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(s->path, s->argv, s->envp);
  child_fail(errfd, S_EXEC);
}

typedef struct {
  const spawn_opts_t *opts;
  int errfd;
} spawn_arg_t;

static int spawn_entry(void *p) {
  const spawn_arg_t *a = p;
  spawn_child(a->opts, a->errfd);
}

#define SPAWN_STACK (256 * 1024)

// spawnProcess(options): forks and execs a process entry (see spawn_child);
// returns its pid. A failure before or at execve throws with the step and
// its errno, the failed child already reaped, so keel's reaper never sees it.
static napi_value js_spawn_process(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  spawn_opts_t *s = malloc(sizeof *s);
  if (!s) return throw_errno(env, "malloc", NULL, ENOMEM);
  napi_value result = NULL;
  int errpipe[2] = {-1, -1};
  if (read_spawn_opts(env, argv[0], s)) goto out;
  if (pipe2(errpipe, O_CLOEXEC) != 0) {
    throw_errno(env, "pipe2", NULL, errno);
    goto out;
  }
  // Every signal blocked across the fork: no handler of Node's may run in the child (it would write to
  // libuv's signal pipe, which the child shares); the child unblocks them after resetting dispositions.
  // Like posix_spawn: the child shares keel's memory (CLONE_VM) on a stack of its own, and keel waits
  // (CLONE_VFORK) until it has exec'd or failed, so no page table of keel's large heap is copied.
  sigset_t all, old;
  sigfillset(&all);
  char *stack = malloc(SPAWN_STACK);
  if (!stack) {
    close(errpipe[0]);
    close(errpipe[1]);
    throw_errno(env, "malloc", NULL, ENOMEM);
    goto out;
  }
  spawn_arg_t arg = {s, errpipe[1]};
  pthread_sigmask(SIG_SETMASK, &all, &old);
  child_huge_pages(1);
  pid_t pid = clone(spawn_entry, stack + SPAWN_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &arg);
  int fork_errno = errno;
  child_huge_pages(0);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  free(stack);
  close(errpipe[1]);
  if (pid < 0) {
    close(errpipe[0]);
    throw_errno(env, "clone", s->path, fork_errno);
    goto out;
  }
  spawn_failure_t f;
  ssize_t r;
  do {
    r = read(errpipe[0], &f, sizeof f);
  } while (r < 0 && errno == EINTR);
  close(errpipe[0]);
  if (r == (ssize_t)sizeof f) {
    int status;
    while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
    }
    const char *step = f.step >= 0 && f.step <= S_EXEC ? STEPS[f.step] : "spawn";
    throw_errno(env, step, f.step == S_CHDIR ? s->cwd : s->path, f.err);
    goto out;
  }
  napi_create_int32(env, pid, &result);
out:
  free_strv(s->argv);
  if (!s->env_inherited) free_strv(s->envp);
  free(s);
  return result;
}

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      FN("mount", js_mount),
      FN("umount2", js_umount2),
      FN("reboot", js_reboot),
      FN("sethostname", js_sethostname),
      FN("setChildSubreaper", js_set_child_subreaper),
      FN("reap", js_reap),
      FN("peekExited", js_peek_exited),
      FN("chroot", js_chroot),
      FN("lockDirectory", js_lock_directory),
      FN("execve", js_execve),
      FN("sync", js_sync),
      FN("setrlimit", js_setrlimit),
      FN("finitModules", js_finit_modules),
      FN("interfaceUp", js_interface_up),
      FN("notifyStart", js_notify_start),
      FN("notifyOpen", js_notify_open),
      FN("notifyClose", js_notify_close),
      FN("pipe", js_pipe),
      FN("dupNonBlocking", js_dup_non_blocking),
      FN("spawnProcess", js_spawn_process),
      FN("disableHugePages", js_disable_huge_pages),
      FN("childHugePages", js_child_huge_pages),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
