import ArgumentParser

/// `vigil`: talks to the vigild daemon over its control socket.
@main
struct Vigil: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "vigil",
    abstract: "Inspect and steer vigild: blocking events, goroutine leaks and network policy.",
    subcommands: [
      StatusCommand.self, TargetsCommand.self, EventsCommand.self, PolicyCommand.self,
      GoroutinesCommand.self, LeaksCommand.self,
    ]
  )

  /// Runs `policy apply` with plain arguments directly, everything else through ArgumentParser.
  static func main() {
    guard let apply = PlainApply(CommandLine.arguments.dropFirst()) else {
      return main(nil)
    }
    do {
      try apply.run()
    } catch {
      PolicyApplyCommand.exit(withError: error)
    }
  }
}
