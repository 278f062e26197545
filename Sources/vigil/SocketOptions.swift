import ArgumentParser
import ControlHTTP
import FoundationEssentials

/// `--socket`, shared by every subcommand that talks to the daemon.
struct SocketOptions: ParsableArguments {
  static let defaultPath = "/run/vigil/vigil.sock"

  @Option(
    help: ArgumentHelp(
      "The daemon's control socket (default: $VIGIL_SOCKET, else \(SocketOptions.defaultPath)).",
      valueName: "path"))
  var socket: String?

  /// The socket to use: `--socket`, else `$VIGIL_SOCKET`, else the default.
  var path: String {
    socket ?? ProcessInfo.processInfo.environment["VIGIL_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
      ?? Self.defaultPath
  }

  var client: DaemonClient {
    DaemonClient(http: UnixHTTPClient(socketPath: path))
  }
}
