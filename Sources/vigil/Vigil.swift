import ArgumentParser

/// `vigil`: talks to the vigild daemon over its control socket.
@main
struct Vigil: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "vigil",
    abstract: "Inspect and steer vigild, the blocking-time node agent.",
    subcommands: [StatusCommand.self, TargetsCommand.self, EventsCommand.self]
  )
}
