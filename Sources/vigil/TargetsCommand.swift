import ArgumentParser

/// `vigil targets`: the processes, executables and cgroups being watched.
struct TargetsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "targets",
    abstract: "List, add and remove watched targets.",
    subcommands: [TargetsListCommand.self, TargetsAddCommand.self, TargetsRemoveCommand.self],
    defaultSubcommand: TargetsListCommand.self
  )
}
