import ArgumentParser
import ControlAPI

/// `vigil targets ls`.
struct TargetsListCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ls", abstract: "List watched targets.")

  @OptionGroup var socket: SocketOptions

  @Flag(help: "Print the daemon's JSON answer.")
  var json = false

  func run() throws {
    if json {
      print(String(decoding: try socket.client.getRaw(APIPath.targets), as: UTF8.self))
      return
    }
    let targets = try socket.client.get(TargetList.self, APIPath.targets).targets
    guard !targets.isEmpty else {
      print("no targets")
      return
    }
    let rows =
      [["ID", "KIND", "VALUE", "PIDS", "SOURCE", "ADDED"]]
      + targets.map { target in
        [
          "\(target.id)", target.kind.rawValue, target.value, Self.pidList(target.pids),
          target.source,
          target.addedAt,
        ]
      }
    printTable(rows)
  }

  /// Up to five pids, then how many more.
  static func pidList(_ pids: [Int32]) -> String {
    guard !pids.isEmpty else { return "-" }
    let shown = pids.prefix(5).map(String.init).joined(separator: ",")
    return pids.count > 5 ? "\(shown),… (+\(pids.count - 5))" : shown
  }
}
