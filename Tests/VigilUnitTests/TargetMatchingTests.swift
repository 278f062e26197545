import Foundation
import Testing

@testable import AgentConfig

/// The error `spec.validate(cgroupMount:)` throws, if any.
private func targetError(_ spec: TargetSpec, cgroupMount: String?) -> ConfigError? {
  do {
    try spec.validate(cgroupMount: cgroupMount)
    return nil
  } catch {
    return error
  }
}

@Suite struct TargetMatchingTests {
  @Test func statWithParenthesesAndSpacesInComm() throws {
    let line =
      "4242 ((a) b)) S 1 4242 4242 0 -1 4194560 200 0 0 0 3 1 0 0 20 0 1 0 987654 1000 100 1\n"
    let stat = try #require(ProcFS.parseStat(line))
    #expect(stat.comm == "(a) b)")
    #expect(stat.startTime == 987654)
  }

  @Test func statRejectsTruncatedLines() {
    #expect(ProcFS.parseStat("") == nil)
    #expect(ProcFS.parseStat("12 (x) S 1 2 3") == nil)
    #expect(ProcFS.parseStat("12 x) S") == nil)
  }

  @Test func cgroupLineParsing() {
    let hybrid = "9:name=systemd:/user.slice\n4:memory:/x\n0::/system.slice/ssh.service\n"
    #expect(ProcFS.parseCgroup(hybrid) == "/system.slice/ssh.service")
    #expect(ProcFS.parseCgroup("0::/\n") == "/")
    #expect(ProcFS.parseCgroup("4:memory:/x\n") == nil)
  }

  @Test func cgroup2MountFromMountInfo() {
    let hybrid = """
      31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
      40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:9 - cgroup cgroup rw,name=systemd
      41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw
      """
    #expect(ProcFS.parseCgroup2Mount(hybrid) == "/sys/fs/cgroup/unified")
    let escaped = "50 1 0:40 / /mnt/my\\040cgroups rw - cgroup2 none rw\n"
    #expect(ProcFS.parseCgroup2Mount(escaped) == "/mnt/my cgroups")
    #expect(ProcFS.parseCgroup2Mount("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n") == nil)
  }

  @Test func statusAndCmdlineParsing() {
    #expect(
      ProcFS.parseTgid("Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\n")
        == 4242)
    #expect(ProcFS.parseTgid("Name:\tbash\n") == nil)
    #expect(ProcFS.parseArgv0("/usr/bin/python3\0-m\0http.server\0") == "/usr/bin/python3")
    #expect(ProcFS.parseArgv0("") == nil)
  }

  private static let nginx = ProcessSnapshot(
    pid: 100, startTime: 5, comm: "nginx", executablePath: "/usr/sbin/nginx",
    cgroupPath: "/system.slice/nginx.service")
  private static let replaced = ProcessSnapshot(
    pid: 101, startTime: 5, comm: "nginx", executablePath: "/usr/sbin/nginx (deleted)")
  private static let longName = ProcessSnapshot(
    pid: 102, startTime: 5, comm: "systemd-journal",
    executablePath: "/usr/lib/systemd/systemd-journald")
  private static let hidden = ProcessSnapshot(
    pid: 103, startTime: 5, comm: "containerd-shim", executablePath: nil)
  private static let renamed = ProcessSnapshot(
    pid: 104, startTime: 5, comm: "worker", executablePath: "/opt/app/server")
  private static let web = ProcessSnapshot(
    pid: 105, startTime: 5, comm: "app", cgroupPath: "/web.slice/app.service")
  private static let web2 = ProcessSnapshot(
    pid: 106, startTime: 5, comm: "app", cgroupPath: "/web.slice2")
  private static let foreign = ProcessSnapshot(
    pid: 107, startTime: 5, comm: "app", cgroupPath: "/../../web.slice")

  @Test(arguments: [
    (TargetSpec.pid(100), nginx, true),
    (.pid(100), replaced, false),
    (.executable("/usr/sbin/nginx"), nginx, true),
    (.executable("/usr/sbin/nginx"), replaced, true),
    (.executable("/usr/bin/nginx"), nginx, false),
    (.executable("/usr/sbin/ngin"), nginx, false),
    (.executable("nginx"), nginx, true),
    (.executable("nginx"), replaced, true),
    (.executable("ngin"), nginx, false),
    (.executable("systemd-journald"), longName, true),
    (.executable("systemd-journal"), longName, true),
    (.executable("containerd-shim-runc-v2"), hidden, true),
    (.executable("containerd-shim"), hidden, true),
    (.executable("containerd"), hidden, false),
    (.executable("/usr/bin/containerd-shim"), hidden, false),
    (.executable("worker"), renamed, true),
    (.executable("server"), renamed, true),
    (.executable("/opt/app/worker"), renamed, false),
  ])
  func executableAndPidMatching(spec: TargetSpec, process: ProcessSnapshot, expected: Bool) {
    #expect(spec.matches(process, cgroupMount: "/sys/fs/cgroup") == expected)
  }

  @Test(arguments: [
    ("/sys/fs/cgroup/unified/web.slice", web, true),
    ("/sys/fs/cgroup/unified/web.slice/", web, true),
    ("/sys/fs/cgroup/unified/web.slice/app.service", web, true),
    ("/sys/fs/cgroup/unified", web, true),
    ("/sys/fs/cgroup/unified/web.slice/app.service/child", web, false),
    ("/sys/fs/cgroup/unified/web.slice", web2, false),
    ("/sys/fs/cgroup/unified/web.slice", nginx, false),
    ("/sys/fs/cgroup/unified/web.slice", foreign, false),
    ("/sys/fs/cgroup/unified", foreign, false),
    ("/sys/fs/cgroup/unified", hidden, false),
    ("/sys/fs/cgroup/web.slice", web, false),
  ])
  func cgroupMatching(path: String, process: ProcessSnapshot, expected: Bool) {
    #expect(
      TargetSpec.cgroup(path).matches(process, cgroupMount: "/sys/fs/cgroup/unified") == expected)
  }

  @Test func textAndJSONForms() throws {
    for spec in [TargetSpec.pid(12), .executable("/usr/sbin/nginx"), .cgroup("/sys/fs/cgroup/a b")]
    {
      #expect(TargetSpec(spec.description) == spec)
      let json = try JSONEncoder().encode(spec)
      #expect(try JSONDecoder().decode(TargetSpec.self, from: json) == spec)
    }
    for bad in ["12", "pid:x", "exe:nginx", "pid:99999999999"] {
      #expect(TargetSpec(bad) == nil, "\(bad)")
    }
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(TargetSpec.self, from: Data(#"{"pid":1,"cgroup":"/x"}"#.utf8))
    }
  }

  @Test func validationErrorsNameTheValue() throws {
    let mount = FileManager.default.temporaryDirectory.appendingPathComponent(
      "vigil-cgroup-\(getpid())"
    ).path
    try FileManager.default.createDirectory(
      atPath: mount + "/web.slice", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: mount) }

    #expect(targetError(.pid(1), cgroupMount: nil) == nil)
    #expect(targetError(.executable("nginx"), cgroupMount: nil) == nil)
    #expect(targetError(.cgroup(mount + "/web.slice"), cgroupMount: mount) == nil)
    #expect(targetError(.cgroup(mount), cgroupMount: mount) == nil)

    let cases: [(TargetSpec, String?, String)] = [
      (.pid(0), mount, #"target: pid: "0" must be a positive process id"#),
      (.pid(-5), mount, #"target: pid: "-5" must be a positive process id"#),
      (.executable(""), mount, #"target: executable: "" must not be empty"#),
      (
        .executable("bin/nginx"), mount,
        #"target: executable: "bin/nginx" must be a file name or an absolute path"#
      ),
      (.cgroup("/tmp"), mount, #"target: cgroup: "/tmp" is not under the cgroup2 mount \#(mount)"#),
      (
        .cgroup(mount + "/db.slice"), mount, #"target: cgroup: "\#(mount)/db.slice" does not exist"#
      ),
      (.cgroup(mount + "/../etc"), mount, "must be an absolute path without . or .. components"),
      (.cgroup("web.slice"), mount, "must be an absolute path without . or .. components"),
      (.cgroup(mount + "/web.slice"), nil, "no cgroup2 file system is mounted"),
    ]
    for (spec, cgroupMount, message) in cases {
      let error = try #require(targetError(spec, cgroupMount: cgroupMount), "\(spec)")
      #expect(error.description.contains(message), "\(error)")
      #expect(error.value == spec.value)
    }
  }

  @Test func snapshotOfThisProcess() throws {
    let pid = getpid()
    let snapshot = try ProcFS.snapshot(pid: pid)
    #expect(snapshot.pid == pid)
    #expect(snapshot.startTime > 0)
    #expect(!snapshot.comm.isEmpty && snapshot.comm.utf8.count <= ProcessSnapshot.commBytes)
    let executable = try #require(snapshot.executablePath)
    #expect(FileManager.default.fileExists(atPath: executable))
    #expect(snapshot.argv0 != nil)
    #expect(try ProcFS.snapshot(pid: pid).identity == snapshot.identity)

    let mount = ProcFS.cgroup2Mount() ?? "/sys/fs/cgroup"
    #expect(TargetSpec.pid(pid).matches(snapshot, cgroupMount: mount))
    #expect(TargetSpec.executable(executable).matches(snapshot, cgroupMount: mount))
    #expect(
      TargetSpec.executable(URL(fileURLWithPath: executable).lastPathComponent).matches(
        snapshot, cgroupMount: mount))
    if let cgroup2 = ProcFS.cgroup2Mount(), let own = snapshot.cgroupPath {
      #expect(TargetSpec.cgroup(cgroup2 + own).matches(snapshot, cgroupMount: cgroup2))
      #expect(targetError(.cgroup(cgroup2 + own), cgroupMount: cgroup2) == nil)
    }
  }

  @Test func processListing() {
    let pid = getpid()
    #expect(ProcFS.allPids().contains(pid))
    #expect(ProcFS.exists(pid: pid))
    #expect(!ProcFS.exists(pid: 0))
    #expect(!ProcFS.exists(pid: Int32.max))
    #expect(throws: ProcFSError.gone(pid: Int32.max)) { try ProcFS.snapshot(pid: Int32.max) }
  }
}
