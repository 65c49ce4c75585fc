# The echo handler for bootstrap_curl.sh: the event arrives on stdin, the answer
# leaves on stdout.
handler() {
  cat
}
