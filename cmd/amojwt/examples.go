package main

// example is a command line that ends a command's help, and what it does.
type example struct{ line, what string }

// examples are the examples of each command's help, by command name
// (rootName for the program's own help). The first of a command is the one its usage
// errors suggest.
var examples = map[string][]example{
	rootName: {
		{"amojwt serve --demo", "a mock AMO API on 127.0.0.1:8080 with a built-in demo key; it prints what to paste next"},
		{"amojwt help inspect", "the flags and examples of one command"},
	},
	"serve": {
		{"amojwt serve --demo", "a mock AMO API on 127.0.0.1:8080 with a built-in demo key; it prints what to paste next"},
		{"amojwt serve --keys keys.json --mock-amo --data-dir state",
			"a mock AMO for `web-ext sign --amo-base-url http://127.0.0.1:8080/api/v5/`, keeping its state across restarts"},
		{"amojwt serve --keys keys.json --upstream http://127.0.0.1:9000 --redis redis://127.0.0.1:6379",
			"authenticate every request, then proxy it to your service; nonces in Redis, shared by every instance"},
	},
	"sign": {
		{"amojwt sign --key user:543210:23 --secret SECRET", "a token good for 60 s, with a random jti"},
		{`curl -H "Authorization: JWT $(amojwt sign --key user:543210:23)" http://127.0.0.1:8080/api/v5/accounts/profile/`,
			"call an API with a fresh token; the secret comes from $AMOJWT_SECRET, out of ps"},
		{"amojwt sign --key user:543210:23 --secret SECRET --iat-offset -10m", "an expired token, to see how a client handles AMO's 401"},
	},
	"inspect": {
		{"amojwt inspect --keys keys.json eyJ...", "why serve would accept or refuse the token eyJ..., check by check"},
		{"amojwt sign --key user:543210:23 --secret SECRET | amojwt inspect --secret SECRET -", "read the token from standard input"},
		{"amojwt inspect eyJ... --secret SECRET --at 2023-11-14T22:13:20Z", "check the token as at another time"},
	},
	"keygen": {
		{"amojwt keygen", "print a new API key and secret"},
		{"amojwt keygen --keys keys.json", "add them to keys.json (created if missing); a running serve --keys keys.json takes the new key at once"},
		{"amojwt keygen --user-id 543210 --key-number 24 --keys keys.json", "a new key for a given user"},
	},
	"version": {
		{"amojwt version", "print amojwt's version, its VCS revision and Go's version"},
	},
	"help": {
		{"amojwt help", "list the commands"},
		{"amojwt help serve", "the flags and examples of serve (as amojwt serve --help)"},
	},
}

// forExample is "; for example: " and the first example of the command
// name, for a usage error to end with.
func forExample(name string) string {
	if ex := examples[name]; len(ex) > 0 {
		return "; for example: " + ex[0].line
	}
	return ""
}
