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
}
