// Command apimport checks, converts and imports Windows Autopilot device exports.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(runWith(context.Background(), os.Args[1:], func(env *cliEnv) {
		env.stdin, env.stdout, env.stderr = os.Stdin, os.Stdout, os.Stderr
		env.memoryLimit = setMemoryLimit
	}))
}
