module runsc.dev

go 1.26.8

require (
	github.com/google/subcommands v1.2.0 // indirect
	github.com/opencontainers/runtime-spec v1.3.0 // indirect
	github.com/syndtr/gocapability v0.0.0-20200815063812-42c35b437635 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
