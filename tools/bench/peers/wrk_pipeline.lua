-- wrk with HTTP/1.1 pipelining, for tools/bench/compare (as wrk's own
-- scripts/pipeline.lua): each connection sends DEPTH GETs of the URL's path
-- at once and sends the next DEPTH when all have been answered.
--
--     wrk -c C -d S -s wrk_pipeline.lua URL -- DEPTH
init = function(args)
   local depth = tonumber(args[1]) or 16
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format()
   end
   req = table.concat(r)
end

request = function()
   return req
end
