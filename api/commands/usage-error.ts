/** A control verb used wrongly (exit code 2). */
export class ControlUsage extends Error {}
