//! A bounding-volume hierarchy over the world's primitives, for fast nearest-hit queries.

use crate::shapes::{Aabb, Ray, Shape, ShapeHit};
use nalgebra::Vector3;

const LEAF_SIZE: usize = 2;

#[derive(Debug, Clone)]
struct Node {
    bounds: Aabb,
    /// Leaf: index range into `order`; inner: `start` is the right child (left is next node).
    start: u32,
    count: u32,
}

/// A BVH built over a list of shapes; queries return the index of the shape hit.
#[derive(Debug, Clone)]
pub struct Bvh {
    nodes: Vec<Node>,
    order: Vec<u32>,
}

impl Bvh {
    /// Builds the hierarchy by median splits along the widest axis of the centroids.
    pub fn build(shapes: &[Shape]) -> Bvh {
        let boxes: Vec<Aabb> = shapes.iter().map(Shape::aabb).collect();
        let mut order: Vec<u32> = (0..shapes.len() as u32).collect();
        let mut nodes = Vec::with_capacity(2 * shapes.len().max(1));
        if !shapes.is_empty() {
            build_node(&boxes, &mut order, 0, shapes.len(), &mut nodes);
        }
        Bvh { nodes, order }
    }

    /// The nearest hit with parameter in (t_min, t_max) among shapes for which `accept(index)`
    /// holds: (shape index, hit).
    pub fn intersect(
        &self,
        shapes: &[Shape],
        ray: &Ray,
        t_min: f64,
        t_max: f64,
        accept: impl Fn(usize) -> bool,
    ) -> Option<(usize, ShapeHit)> {
        if self.nodes.is_empty() {
            return None;
        }
        let inv = Vector3::new(1.0 / ray.dir.x, 1.0 / ray.dir.y, 1.0 / ray.dir.z);
        let mut best: Option<(usize, ShapeHit)> = None;
        let mut limit = t_max;
        let mut stack = [0u32; 64];
        let mut top = 1;
        while top > 0 {
            top -= 1;
            let node = &self.nodes[stack[top] as usize];
            if node.bounds.hit(ray, &inv, limit).is_none() {
                continue;
            }
            if node.count > 0 {
                for &i in &self.order[node.start as usize..(node.start + node.count) as usize] {
                    let i = i as usize;
                    if !accept(i) {
                        continue;
                    }
                    if let Some(h) = shapes[i].intersect(ray, t_min, limit) {
                        limit = h.t;
                        best = Some((i, h));
                    }
                }
            } else {
                let this = stack[top] + 1;
                stack[top] = this;
                stack[top + 1] = node.start;
                top += 2;
            }
        }
        best
    }
}

fn build_node(
    boxes: &[Aabb],
    order: &mut [u32],
    start: usize,
    end: usize,
    nodes: &mut Vec<Node>,
) -> usize {
    let bounds = order[start..end]
        .iter()
        .fold(Aabb::empty(), |b, &i| b.union(&boxes[i as usize]));
    let id = nodes.len();
    nodes.push(Node {
        bounds,
        start: start as u32,
        count: (end - start) as u32,
    });
    if end - start <= LEAF_SIZE {
        return id;
    }
    let cb = order[start..end].iter().fold(Aabb::empty(), |b, &i| {
        let c = boxes[i as usize].centre();
        b.union(&Aabb { min: c, max: c })
    });
    let ext = cb.max - cb.min;
    let axis = if ext.x >= ext.y && ext.x >= ext.z {
        0
    } else if ext.y >= ext.z {
        1
    } else {
        2
    };
    let mid = (start + end) / 2;
    order[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
        boxes[a as usize].centre()[axis].total_cmp(&boxes[b as usize].centre()[axis])
    });
    build_node(boxes, order, start, mid, nodes);
    let right = build_node(boxes, order, mid, end, nodes);
    nodes[id].start = right as u32;
    nodes[id].count = 0;
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use nalgebra::Point3;

    #[test]
    fn bvh_agrees_with_brute_force() {
        let mut rng = Rng::new(3);
        let shapes: Vec<Shape> = (0..200)
            .map(|i| {
                let c = Point3::new(
                    rng.uniform(-20.0, 20.0),
                    rng.uniform(-3.0, 2.0),
                    rng.uniform(2.0, 60.0),
                );
                match i % 3 {
                    0 => Shape::Sphere {
                        centre: c,
                        radius: rng.uniform(0.2, 1.5),
                    },
                    1 => Shape::cuboid(
                        c,
                        Vector3::new(
                            rng.uniform(0.2, 2.0),
                            rng.uniform(0.2, 2.0),
                            rng.uniform(0.2, 2.0),
                        ),
                        rng.uniform(-3.0, 3.0),
                    ),
                    _ => Shape::Cylinder {
                        axis: [c.x, c.z],
                        radius: 0.3,
                        y_top: c.y - 1.0,
                        y_bottom: c.y + 1.0,
                    },
                }
            })
            .collect();
        let bvh = Bvh::build(&shapes);
        let mut hits = 0;
        for _ in 0..2000 {
            let ray = Ray {
                origin: Point3::origin(),
                dir: Vector3::new(rng.uniform(-0.6, 0.6), rng.uniform(-0.2, 0.2), 1.0),
            };
            let brute = shapes
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.intersect(&ray, 1e-9, 1e9).map(|h| (i, h.t)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let fast = bvh
                .intersect(&shapes, &ray, 1e-9, 1e9, |_| true)
                .map(|(i, h)| (i, h.t));
            assert_eq!(brute, fast);
            hits += brute.is_some() as usize;
        }
        assert!(hits > 200, "test rays should hit something: {hits}");
    }
}
