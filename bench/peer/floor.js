// The floor of `cargo xtask bench cold`: a Worker that answers every request with the
// same redirect and reads nothing. What a start of it costs is workerd's (and miniflare's)
// own; what the other Workers take beyond it is theirs.
export default {
  fetch: () => new Response(null, { status: 302, headers: { Location: "/c/cs_floor" } }),
};
