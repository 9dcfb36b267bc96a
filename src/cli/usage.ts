// Errors caused by how the command was called (exit code 2), as opposed to failures while running (exit 1).
export class UsageError extends Error {}
