package main

import "syscall"

// becomeSubreaper makes the helpers that create and exec leave behind our children once their parent exits
// (prctl PR_SET_CHILD_SUBREAPER), so os.FindProcess(pid).Wait() works on Linux as it does on Windows.
func becomeSubreaper() error {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return errno
	}
	return nil
}
