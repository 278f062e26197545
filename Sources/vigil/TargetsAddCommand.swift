import ArgumentParser
import ControlAPI

/// `vigil targets add (--pid N | --exe PATH_OR_NAME | --cgroup PATH)`.
struct TargetsAddCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "add", abstract: "Watch a process, an executable or a cgroup.")

  @OptionGroup var socket: SocketOptions

  @Option(help: "Watch the process with this id.")
  var pid: Int32?

  @Option(
    help: ArgumentHelp("Watch every process running this executable.", valueName: "path-or-name"))
  var exe: String?

  @Option(help: ArgumentHelp("Watch every process in this cgroup v2 directory.", valueName: "path"))
  var cgroup: String?

  func validate() throws {
    guard [pid != nil, exe != nil, cgroup != nil].filter({ $0 }).count == 1 else {
      throw ValidationError("Give exactly one of --pid, --exe or --cgroup.")
    }
  }

  func run() throws {
    let request = TargetRequest(pid: pid, executable: exe, cgroup: cgroup)
    let target = try socket.client.post(APIPath.targets, request, answer: TargetInfo.self)
    let count = target.pids.count
    print(
      "added target \(target.id): \(target.kind.rawValue) \(target.value) "
        + "(\(count) \(count == 1 ? "process" : "processes") now)")
  }
}
