import ArgumentParser
import ControlAPI

/// `vigil targets rm ID`.
struct TargetsRemoveCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rm", abstract: "Stop watching a target.")

  @OptionGroup var socket: SocketOptions

  @Argument(help: "The target's id, as `vigil targets ls` shows it.")
  var id: Int

  func run() throws {
    try socket.client.delete(APIPath.target(id: id))
    print("removed target \(id)")
  }
}
