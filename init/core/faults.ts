// Test-only fault injection: KEEL_INJECT_FAULT names the faults to provoke
// (a comma-separated list), so the tests can prove that keel contains faults
// nothing outside it can cause (docs/architecture.md, "PID 1 must not die").

/** Whether the tests asked for `fault`: uncaught, rejection (at boot complete), load (the load stage throws). */
export function faultAsked(fault: 'uncaught' | 'rejection' | 'load'): boolean {
  return (process.env.KEEL_INJECT_FAULT ?? '').split(',').includes(fault);
}
