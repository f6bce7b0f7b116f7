// A value that exists only from some stage of boot on (the supervisor once
// runc is found), for those who must be wired before it: the control API and
// the console prompt ask for it and get undefined until then.
export class Late<T> {
  private value: T | undefined;

  set(value: T): void {
    this.value = value;
  }

  get(): T | undefined {
    return this.value;
  }
}
