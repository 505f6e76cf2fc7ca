// Commands over several shards: split into one part per shard, run in
// parallel, answers merged in the order the client gave the keys.
#include <limits>

#include "kv/kv_service.h"

namespace fjord::kv {

namespace {

const Reply* first_error(const std::vector<Reply>& replies) {
    for (const Reply& r : replies) {
        if (r.kind == Reply::Kind::error) return &r;
    }
    return nullptr;
}

Reply sum_of(const std::vector<Reply>& replies) {
    if (const Reply* e = first_error(replies)) return *e;
    int64_t total = 0;
    for (const Reply& r : replies) total += r.integer;
    return Reply::integer_of(total);
}

}  // namespace

void KvService::run_parts(const std::shared_ptr<Session>& session, std::vector<ShardRequest> parts,
                          std::function<void(std::vector<Reply>)> done) {
    struct Gather {
        std::vector<Reply> replies;
        size_t left;
        std::function<void(std::vector<Reply>)> done;
    };
    auto gather =
        std::make_shared<Gather>(Gather{std::vector<Reply>(parts.size()), parts.size(), std::move(done)});
    if (parts.empty()) return gather->done({});
    for (size_t i = 0; i < parts.size(); ++i) {
        run_for(session, std::move(parts[i]), [gather, i](Reply reply) {
            gather->replies[i] = std::move(reply);
            if (--gather->left == 0) gather->done(std::move(gather->replies));
        });
    }
}

void KvService::run_multi(const std::shared_ptr<Session>& session, const CommandSpec& spec, Command command,
                          std::function<void(Reply)> done) {
    const std::vector<uint64_t>& groups = shard_groups();
    if (groups.empty()) return done(Reply::error("TRYAGAIN the key-value shards are not created yet"));
    size_t step = spec.key_step;
    if ((command.size() - 1) % step != 0)
        return done(
            Reply::error("ERR wrong number of arguments for '" + std::string(spec.name) + "' command"));
    // One part per shard, and for every key, which part and position answer it.
    std::vector<ShardRequest> parts;
    std::map<uint64_t, size_t> part_of_group;
    std::vector<std::pair<size_t, size_t>> where;  // per key: (part, index in the part's answer)
    for (size_t i = 1; i < command.size(); i += step) {
        uint64_t group = shard_of(command[i], groups);
        auto [it, added] = part_of_group.try_emplace(group, parts.size());
        if (added) parts.push_back(request_for(*session, group, Command{command[0]}));
        ShardRequest& part = parts[it->second];
        where.emplace_back(it->second, (part.command.size() - 1) / step);
        for (size_t k = 0; k < step; ++k) part.command.push_back(command[i + k]);
    }
    std::string name = upper(command[0]);
    run_parts(session, std::move(parts),
              [name, where = std::move(where), done = std::move(done)](std::vector<Reply> replies) {
                  if (name == "MGET") {
                      if (const Reply* e = first_error(replies)) return done(*e);
                      std::vector<Reply> values;
                      for (auto [part, index] : where) values.push_back(replies[part].elements.at(index));
                      return done(Reply::array(std::move(values)));
                  }
                  if (name == "MSET") {
                      if (const Reply* e = first_error(replies)) return done(*e);
                      return done(Reply::ok());
                  }
                  done(sum_of(replies));  // DEL, UNLINK, DELETE, EXISTS
              });
}

// KEYS, DBSIZE and FLUSHDB go to every shard; SCAN walks the shards in turn,
// its cursor being (shard << 32 | the hash to resume from).
void KvService::run_keyspace(const std::shared_ptr<Session>& session, Command command,
                             std::function<void(Reply)> done) {
    const std::vector<uint64_t>& groups = shard_groups();
    if (groups.empty()) return done(Reply::error("TRYAGAIN the key-value shards are not created yet"));
    std::string name = upper(command[0]);
    if (name == "SCAN") {
        int64_t cursor = 0;
        if (!parse_int64(command[1], cursor) || cursor < 0) return done(Reply::error("ERR invalid cursor"));
        auto shard_index = static_cast<uint64_t>(cursor) >> 32;
        if (shard_index >= groups.size()) return done(Reply::array({Reply::bulk("0"), Reply::array({})}));
        Command part = command;
        part[1] = std::to_string(static_cast<uint64_t>(cursor) & 0xffffffffu);
        size_t count = groups.size();
        run_parts(session, {request_for(*session, groups[shard_index], std::move(part))},
                  [shard_index, count, done = std::move(done)](std::vector<Reply> replies) {
                      Reply& r = replies[0];
                      if (r.kind == Reply::Kind::error) return done(std::move(r));
                      const std::string& next = r.elements.at(0).text;
                      uint64_t resume = 0;
                      if (next != "done") {
                          resume = shard_index << 32 | std::stoull(next);
                      } else if (shard_index + 1 < count) {
                          resume = (shard_index + 1) << 32;
                      }
                      done(Reply::array({Reply::bulk(std::to_string(resume)), std::move(r.elements.at(1))}));
                  });
        return;
    }
    std::vector<ShardRequest> parts;
    for (uint64_t group : groups) parts.push_back(request_for(*session, group, command));
    run_parts(session, std::move(parts), [name, done = std::move(done)](std::vector<Reply> replies) {
        if (const Reply* e = first_error(replies)) return done(*e);
        if (name == "DBSIZE") return done(sum_of(replies));
        if (name == "KEYS") {
            std::vector<Reply> keys;
            for (Reply& r : replies) {
                for (Reply& k : r.elements) keys.push_back(std::move(k));
            }
            return done(Reply::array(std::move(keys)));
        }
        done(Reply::ok());  // FLUSHDB, FLUSHALL
    });
}

}  // namespace fjord::kv
