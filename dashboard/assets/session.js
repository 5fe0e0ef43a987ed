/* When the session ends (logged out elsewhere, a new password, the account disabled), the
   server answers Dash's requests with 401: go to the login form rather than leave a wall
   screen that silently stops updating. */
(function () {
  const original = window.fetch;
  window.fetch = function (input) {
    return original.apply(this, arguments).then(function (response) {
      const url = typeof input === "string" ? input : (input && input.url) || "";
      if (response.status === 401 && url.indexOf("/_dash-") !== -1) {
        const here = window.location.pathname + window.location.search;
        window.location.assign("/login?next=" + encodeURIComponent(here));
      }
      return response;
    });
  };
})();
